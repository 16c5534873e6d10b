import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './config.js';
import { aclFile, mosquittoHash, passwordFile, verifyMosquittoHash } from './mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'pantau-mosq-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mosquitto files', () => {
  it('hashes the way mosquitto_passwd does', () => {
    const bin = '/usr/bin/mosquitto_passwd';
    if (!existsSync(bin)) throw new Error(`${bin} missing: apt-get install -y mosquitto`);
    const f = join(dir, 'pw');
    execFileSync(bin, ['-b', '-c', f, 'u', 's3cret']);
    const theirs = readFileSync(f, 'utf8').trim().split(':')[1]!;
    expect(verifyMosquittoHash('s3cret', theirs)).toBe(true);
    expect(verifyMosquittoHash('other', theirs)).toBe(false);
    const ours = mosquittoHash('s3cret');
    expect(ours).toMatch(/^\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/);
    expect(verifyMosquittoHash('s3cret', ours)).toBe(true);
  });

  it('leaves out accounts without a mosquitto hash and fences site boxes by site', () => {
    const c = {
      gateways: [
        { site: 'rsud', username: 'gw-rsud', password_hash: 'scrypt$x', mosquitto_hash: '$7$101$a$b' },
        { site: 'pkm', username: 'gw-pkm', password_hash: 'scrypt$x' },
      ],
      readers: [
        { username: 'dashboard', password_hash: 'scrypt$x', mosquitto_hash: '$7$101$c$d', requests: true },
      ],
    };
    expect(passwordFile(c)).toBe('gw-rsud:$7$101$a$b\ndashboard:$7$101$c$d\n');
    const acl = aclFile(c);
    expect(acl).toContain('user gw-rsud\ntopic write pantau/v1/rsud/gateway/state');
    expect(acl).toContain('topic read pantau/v1/rsud/request/+');
    expect(acl).not.toMatch(/topic (write|readwrite) pantau\/v1\/rsud\/#/);
    expect(acl).toContain('user dashboard\ntopic read pantau/v1/#\ntopic write pantau/v1/+/request/+');
  });
});

describe('central.yaml external_broker', () => {
  it('names the line of an unreadable password file', () => {
    const f = join(dir, 'central.yaml');
    writeFileSync(
      f,
      'external_broker:\n  urls: ["mqtt://127.0.0.1:1883"]\n  username: ingest\n  password_file: nope.pw\ncredentials_file: c.yaml\nstore: { path: a.db }\n',
    );
    expect(() => loadBrokerConfig(f)).toThrow(/central\.yaml:4.*external_broker\.password_file.*ENOENT/s);
  });
});

describe('central.yaml external_broker with a shared subscription', () => {
  it('refuses share_group together with a backbone, at the share_group line', () => {
    const f = join(dir, 'central-share.yaml');
    writeFileSync(join(dir, 'ingest.pw'), 'x\n');
    writeFileSync(
      f,
      'external_broker:\n  urls: ["mqtt://127.0.0.1:1883"]\n  username: ingest\n  password_file: ingest.pw\n  share_group: ingest\ncredentials_file: c.yaml\nstore: { path: a.db }\nbackbone: { file: b.yaml }\n',
    );
    expect(() => loadBrokerConfig(f)).toThrow(/central-share\.yaml:5.*share_group.*backbone/s);
  });
});
