import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { loadGatewayConfig } from './config.js';
import { enrollSiteBox } from './enroll.js';

describe('enrollSiteBox', () => {
  const dir = tempDir('gw-enroll');
  afterAll(() => dir.remove());
  let requests = 0;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  const url = () =>
    new Promise<string>((r) =>
      server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
    );
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses plain http unless asked, before sending the token', async () => {
    await expect(
      enrollSiteBox({ centralUrl: 'http://127.0.0.1:1', token: 'x', configPath: join(dir.path, 'a.yaml') }),
    ).rejects.toThrow(/must be https/);
  });

  it('a site.yaml with other faults is refused before the token is spent', async () => {
    const base = await url();
    const f = join(dir.path, 'broken.yaml');
    const text = `site: { id: old }\nmqtt: { urls: ["mqtt://c:1883"], username: u, password: p }\ndevices:\n  - { id: r1, address: "not an address!" }\n`;
    writeFileSync(f, text);
    await expect(
      enrollSiteBox({ centralUrl: base, token: 'ABCD-EFGH-JKMN-PQRS', configPath: f, allowHttp: true }),
    ).rejects.toThrow(new RegExp(`${f}:4:.*devices\\[0\\]\\.address`));
    expect(requests).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe(text);
  });

  it('writes a minimal valid site.yaml when there is none, with the password in its own 0600 file', async () => {
    const base = await url().catch(() => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    answer = {
      status: 200,
      body: {
        site: 'pasar',
        mqtt: { urls: ['mqtt://10.0.0.1:1883'], username: 'gw-pasar', password: 's3cret' },
      },
    };
    const f = join(dir.path, 'new', 'site.yaml');
    await import('node:fs').then((fs) => fs.mkdirSync(join(dir.path, 'new')));
    expect(await enrollSiteBox({ centralUrl: base, token: 't', configPath: f, allowHttp: true })).toEqual({
      site: 'pasar',
    });
    const c = loadGatewayConfig(f);
    expect(c.site.id).toBe('pasar');
    expect(c.mqtt).toMatchObject({ urls: ['mqtt://10.0.0.1:1883'], username: 'gw-pasar' });
    expect(c.password).toBe('s3cret');
    expect(existsSync(join(dir.path, 'new', 'site.pw'))).toBe(true);
    expect(readFileSync(f, 'utf8')).toMatch(/^# \/etc\/pantau\/site\.yaml/);
  });

  it('says what the central said when it refuses', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    answer = { status: 409, body: { error: 'token_used', message: 'this token was already used' } };
    const f = join(dir.path, 'new', 'site.yaml');
    const before = readFileSync(f, 'utf8');
    await expect(
      enrollSiteBox({ centralUrl: base, token: 't', configPath: f, allowHttp: true }),
    ).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/\(409\): this token was already used/),
    });
    expect(readFileSync(f, 'utf8')).toBe(before);
  });
});
