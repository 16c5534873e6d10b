// The ONVIF collector against the simulated camera over real HTTP and UDP on loopback: no mocks.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  collectOnvif,
  discover,
  fetchSnapshot,
  OnvifClient,
  OnvifError,
  type OnvifResult,
  setCameraClock,
} from './index.js';
import {
  DEFAULT_SNAPSHOT,
  type OnvifSimulator,
  type OnvifSimulatorOptions,
  startOnvifSimulator,
} from './simulator/index.js';

const USER = 'admin';
const PASS = 'kominfo-2024';
const RTSP = 'rtsp://127.0.0.1:8554/moving';
const RTSP_SUB = 'rtsp://127.0.0.1:8554/moving-sub';
const HOUR = 3_600_000;

const running: OnvifSimulator[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function sim(o: Partial<OnvifSimulatorOptions> = {}): Promise<OnvifSimulator> {
  const s = await startOnvifSimulator({
    username: USER,
    password: PASS,
    rtspBase: RTSP,
    rtspSubBase: RTSP_SUB,
    ...o,
  });
  running.push(s);
  return s;
}

const target = (s: { host: string; port: number }, password = PASS, timeoutMs = 3000) => ({
  address: s.host,
  port: s.port,
  username: USER,
  password,
  timeoutMs,
});

async function freePort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A listening port that never completes a handshake, like a camera that is off behind a router
 * dropping packets: a child process listens with a backlog of 1 (0 would mean Node's default) and
 * then blocks forever without accepting; once its accept queue is full the kernel drops further SYNs.
 */
async function unansweredPort(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('node:net').createServer();" +
        "s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {" +
        "  process.stdout.write(s.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));" +
        '});',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(
    await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(String(d).trim()))),
  );
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    stop: () => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    },
  };
}

function expectUp(r: OnvifResult) {
  expect(r.error).toBeUndefined();
  expect(r.state).toBe('UpWithAuth');
}

describe('collectOnvif against the simulated camera', () => {
  it('reads identity from the recorded GetDeviceInformation, with WS-Security', async () => {
    const s = await sim({ auth: 'wsse' });
    const r = await collectOnvif(target(s));
    expectUp(r);
    expect(r.auth).toBe('wsse');
    expect(r.identity).toEqual({
      manufacturer: 'Mockup Manufacturer',
      model: 'Mockup Model',
      firmware: 'Mockup_15_14_13',
      serial: '00000000',
      hardware_id: 'MOCKUP',
    });
    expect(Math.abs(r.clock!.offset_ms)).toBeLessThan(2000);
    expect(r.clock!.ntp).toBe(false);
    expect(r.clock!.timezone).toBe('MoroccoStandardTime0');
    expect(s.requests.GetDeviceInformation).toBe(1);
  });

  it('authenticates with HTTP Digest on a digest-only camera', async () => {
    const s = await sim({ auth: 'digest' });
    const r = await collectOnvif(target(s));
    expectUp(r);
    expect(r.auth).toBe('digest');
    expect(r.identity?.model).toBe('Mockup Model');
    expect(r.streamUri).toBe(RTSP_SUB);
  });

  for (const auth of ['wsse', 'digest', 'both'] as const) {
    it(`wrong password on a ${auth} camera is UpWithoutAuth, with the clock offset still reported`, async () => {
      const s = await sim({ auth, clockOffsetMs: -HOUR });
      const r = await collectOnvif(target(s, 'wrong'));
      expect(r.state).toBe('UpWithoutAuth');
      expect(r.error?.kind).toBe('auth');
      expect(r.identity).toBeUndefined();
      expect(Math.abs(r.clock!.offset_ms + HOUR)).toBeLessThan(2000);
    });
  }

  for (const offset of [HOUR, -HOUR]) {
    it(`a camera clock ${offset > 0 ? '+' : '-'}1 h still authenticates (WS-Security signed with its offset)`, async () => {
      const s = await sim({ auth: 'wsse', clockOffsetMs: offset });
      const r = await collectOnvif(target(s));
      expectUp(r);
      expect(r.auth).toBe('wsse');
      expect(Math.abs(r.clock!.offset_ms - offset)).toBeLessThan(2000);
      expect(Math.abs(r.clock!.camera_utc_ms - (Date.now() + offset))).toBeLessThan(3000);
    });
  }

  it('a signer that does not shift to the camera clock is refused; the shifted one is accepted', async () => {
    const s = await sim({ auth: 'wsse', clockOffsetMs: HOUR });
    const unshifted = new OnvifClient(target(s), { offsetMs: 0 });
    const err = await unshifted
      .call('GetDeviceInformation', '<tds:GetDeviceInformation/>')
      .catch((e: unknown) => e);
    unshifted.close();
    expect(err).toBeInstanceOf(OnvifError);
    expect((err as OnvifError).kind).toBe('auth');
    expect((err as OnvifError).message).toMatch(/NotAuthorized.*away from the camera clock/);

    const shifted = new OnvifClient(target(s), { offsetMs: HOUR });
    const info = await shifted.call('GetDeviceInformation', '<tds:GetDeviceInformation/>');
    shifted.close();
    expect(info.name).toBe('GetDeviceInformationResponse');
  });

  it('a camera accepting both falls back to Digest when its clock is past WS-Security tolerance', async () => {
    const s = await sim({ auth: 'both', clockOffsetMs: HOUR });
    const c = new OnvifClient(target(s), { offsetMs: 0 });
    const info = await c.call('GetDeviceInformation', '<tds:GetDeviceInformation/>');
    c.close();
    expect(info.name).toBe('GetDeviceInformationResponse');
    expect(c.authUsed).toBe('digest');
  });

  it('profiles, stream and snapshot URIs are rewritten to the simulator; the sub-stream is preferred', async () => {
    const s = await sim();
    const r = await collectOnvif(target(s));
    expectUp(r);
    expect(r.profiles).toEqual([
      {
        token: 'main',
        name: 'main',
        encoding: 'H264',
        width: 1920,
        height: 1080,
        fps: 5,
        bitrate_kbps: 1000,
      },
      { token: 'sub', name: 'sub', encoding: 'H264', width: 640, height: 360, fps: 10, bitrate_kbps: 256 },
    ]);
    expect(r.streamUri).toBe(RTSP_SUB);
    expect(r.mainStreamUri).toBe(RTSP);
    expect(r.snapshotUri).toBe(`http://127.0.0.1:${s.port}/snapshot.jpg`);
    expect(r.mediaXAddr).toBe(`http://127.0.0.1:${s.port}/onvif/services`);
    expect(s.requests.GetProfiles).toBe(1);
  });

  it('a single-profile camera gives the same URI as stream and main stream', async () => {
    const s = await sim({ subProfile: false });
    const r = await collectOnvif(target(s));
    expectUp(r);
    expect(r.profiles.map((p) => p.token)).toEqual(['main']);
    expect(r.streamUri).toBe(RTSP);
    expect(r.mainStreamUri).toBe(RTSP);
  });

  it('a camera reporting a wrong (NAT) service address is still read at the address we reach it by', async () => {
    const s = await sim({ advertise: { host: '10.255.0.9', port: 8080 } });
    const r = await collectOnvif(target(s));
    expectUp(r);
    expect(r.mediaXAddr).toBe(`http://127.0.0.1:${s.port}/onvif/services`);
    expect(r.profiles).toHaveLength(2);
    // The camera's own idea of its snapshot address is reported as it gave it.
    expect(r.snapshotUri).toBe('http://10.255.0.9:8080/snapshot.jpg');
  });

  it('a port answering HTTP 404 text is Reachable', async () => {
    const s = await sim({ mode: 'silent' });
    const r = await collectOnvif(target(s));
    expect(r.state).toBe('Reachable');
    expect(r.error?.kind).toBe('malformed');
    expect(r.error?.message).toMatch(/did not answer SOAP \(HTTP 404/);
    expect(r.clock).toBeUndefined();
  });

  it('a port that accepts and never answers is Reachable after the timeout', async () => {
    const s = await sim({ mode: 'hang' });
    const t0 = Date.now();
    const r = await collectOnvif(target(s, PASS, 400));
    expect(r.state).toBe('Reachable');
    expect(r.error?.kind).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('garbage XML is Reachable with a clear error, never a crash', async () => {
    const s = await sim({ mode: 'garbage' });
    const r = await collectOnvif(target(s));
    expect(r.state).toBe('Reachable');
    expect(r.error?.kind).toBe('malformed');
    expect(r.error?.message).toMatch(/not XML: unterminated tag <tds:GetSystemDateAndTimeRes>/);
  });

  it('garbage after a good start keeps the state and says what failed', async () => {
    const s = await sim();
    const srv = createServer((req, res) => {
      // A proxy that answers the clock properly and garbles everything else.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString();
        if (body.includes('GetSystemDateAndTime')) {
          const up = await fetch(s.url, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/soap+xml' },
          });
          res.writeHead(200, { 'content-type': 'application/soap+xml' });
          res.end(await up.text());
        } else {
          res.writeHead(200, { 'content-type': 'application/soap+xml' });
          res.end('<<<>>> not xml');
        }
      });
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const r = await collectOnvif({ ...target(s), port: (srv.address() as { port: number }).port });
    expect(r.state).toBe('Reachable');
    expect(r.clock).toBeDefined();
    expect(r.error?.message).toMatch(/not XML/);
  });

  it('a closed port is Unreachable', async () => {
    const port = await freePort();
    const r = await collectOnvif({ ...target({ host: '127.0.0.1', port }) });
    expect(r.state).toBe('Unreachable');
    expect(r.error?.kind).toBe('unreachable');
    expect(r.error?.message).toMatch(/ECONNREFUSED/);
  });

  it('a port whose SYNs go unanswered is Unreachable within the timeout', async () => {
    const { port, stop } = await unansweredPort();
    try {
      const t0 = Date.now();
      const r = await collectOnvif({ ...target({ host: '127.0.0.1', port }, PASS, 300) });
      expect(r.state).toBe('Unreachable');
      expect(r.error?.message).toMatch(/no TCP connection to 127\.0\.0\.1:\d+ within 300 ms/);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      stop();
    }
  });
});

describe('setCameraClock', () => {
  it('SetSystemDateAndTime brings a camera an hour ahead back to our time', async () => {
    const s = await sim({ auth: 'wsse', clockOffsetMs: HOUR });
    const r = await setCameraClock(target(s));
    expect(Math.abs(r.previous_offset_ms - HOUR)).toBeLessThan(2000);
    expect(Math.abs(r.offset_ms)).toBeLessThan(2000);
    expect(Math.abs(s.clockOffsetMs())).toBeLessThan(1000);
    expect(r.clock.ntp).toBe(false);
    expect(s.requests.SetSystemDateAndTime).toBe(1);
    const again = await collectOnvif(target(s));
    expectUp(again);
    expect(Math.abs(again.clock!.offset_ms)).toBeLessThan(2000);
  });

  it('works on a digest-only camera and sets the time asked for', async () => {
    const s = await sim({ auth: 'digest', clockOffsetMs: -HOUR });
    const r = await setCameraClock(target(s), new Date(Date.now() + 10 * 60_000));
    expect(Math.abs(r.offset_ms - 10 * 60_000)).toBeLessThan(2000);
  });

  it('throws an auth error with a wrong password and leaves the clock alone', async () => {
    const s = await sim({ auth: 'wsse', clockOffsetMs: HOUR });
    await expect(setCameraClock(target(s, 'wrong'))).rejects.toMatchObject({ kind: 'auth' });
    expect(s.clockOffsetMs()).toBe(HOUR);
  });
});

describe('fetchSnapshot', () => {
  it('downloads the snapshot behind HTTP Digest', async () => {
    const s = await sim({ auth: 'wsse' });
    const r = await collectOnvif(target(s));
    const jpeg = await fetchSnapshot(r.snapshotUri!, { username: USER, password: PASS }, { timeoutMs: 2000 });
    expect(jpeg.equals(DEFAULT_SNAPSHOT)).toBe(true);
    expect(s.requests.snapshot).toBe(2); // the challenge, then the answer
  });

  it('refuses wrong credentials', async () => {
    const s = await sim();
    await expect(
      fetchSnapshot(`${s.url.replace('/onvif/device_service', '')}/snapshot.jpg`, {
        username: USER,
        password: 'x',
      }),
    ).rejects.toMatchObject({ kind: 'auth' });
  });

  it('aborts an image over the size cap (declared length)', async () => {
    const big = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300_000, 7)]);
    const s = await sim({ snapshot: big });
    const uri = `http://127.0.0.1:${s.port}/snapshot.jpg`;
    const creds = { username: USER, password: PASS };
    await expect(fetchSnapshot(uri, creds, { maxBytes: 100_000 })).rejects.toThrow(
      /over the 100000-byte cap/,
    );
    expect((await fetchSnapshot(uri, creds, { maxBytes: 400_000 })).length).toBe(big.length);
  });

  it('aborts a streamed image over the size cap, and refuses what is not a JPEG', async () => {
    const srv = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      if (req.url === '/html') {
        res.end('<html>error</html>');
        return;
      }
      const chunk = Buffer.alloc(16_384, 1);
      chunk[0] = 0xff;
      chunk[1] = 0xd8;
      let n = 0;
      const t = setInterval(() => {
        if (n++ > 100 || res.destroyed) {
          clearInterval(t);
          res.end();
        } else res.write(chunk);
      }, 1);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    await expect(fetchSnapshot(`${base}/stream`, undefined, { maxBytes: 50_000 })).rejects.toThrow(
      /exceeds the 50000-byte cap/,
    );
    await expect(fetchSnapshot(`${base}/html`, undefined)).rejects.toThrow(/not a JPEG/);
  });

  it('times out on a camera that never answers', async () => {
    const s = await sim({ mode: 'hang' });
    await expect(
      fetchSnapshot(
        `http://127.0.0.1:${s.port}/snapshot.jpg`,
        { username: USER, password: PASS },
        { timeoutMs: 300 },
      ),
    ).rejects.toMatchObject({ kind: 'timeout' });
  });
});

describe('WS-Discovery', () => {
  it('unicast probes find two simulators on 127.0.0.1 with different discovery ports', async () => {
    const a = await sim({ discoveryPort: 0, name: 'RSUD Latemmamala' });
    const b = await sim({ discoveryPort: 0, name: 'Damkar' });
    const found = await discover({
      timeoutMs: 500,
      addresses: [`127.0.0.1:${a.discoveryPort}`, `127.0.0.1:${b.discoveryPort}`],
    });
    expect(found).toHaveLength(2);
    const byName = Object.fromEntries(found.map((d) => [d.scopes.name, d]));
    expect(byName['RSUD Latemmamala']).toMatchObject({
      address: '127.0.0.1',
      endpoint: a.endpoint,
      xaddrs: [a.url],
      types: ['dn:NetworkVideoTransmitter', 'tds:Device'],
    });
    expect(byName['RSUD Latemmamala']!.scopes.hardware).toBe('HD_PREDATOR');
    expect(byName.Damkar!.xaddrs).toEqual([b.url]);
    // The probe is sent twice (UDP may lose one); the answers are merged per endpoint.
    expect(a.requests.Probe).toBe(2);
  });

  it('finds simulators on 127.0.0.2 and 127.0.0.3 on the same port, and the xaddr leads to a working camera', async () => {
    const a = await sim({ host: '127.0.0.2', discoveryPort: 0 });
    const b = await sim({ host: '127.0.0.3', discoveryPort: a.discoveryPort! });
    const found = await discover({
      timeoutMs: 500,
      addresses: ['127.0.0.2', '127.0.0.3'],
      port: a.discoveryPort!,
    });
    expect(found.map((d) => d.address).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(found.find((d) => d.address === '127.0.0.3')!.xaddrs).toEqual([b.url]);
    const u = new URL(found[0]!.xaddrs[0]!);
    const r = await collectOnvif({ ...target({ host: u.hostname, port: Number(u.port) }), path: u.pathname });
    expectUp(r);
  });

  it('a multicast probe (239.255.255.250:3702) sent on loopback finds a simulator that joined the group', async () => {
    const s = await sim({ discoveryPort: 3702, discoveryMulticast: true, name: 'PSC 119' });
    const found = await discover({ timeoutMs: 500, bindAddress: '127.0.0.1' });
    expect(found.map((d) => d.scopes.name)).toContain('PSC 119');
    expect(found.find((d) => d.scopes.name === 'PSC 119')!.xaddrs).toEqual([s.url]);
  });

  it('returns nothing (and does not hang) when no camera answers', async () => {
    const port = await freePort();
    const t0 = Date.now();
    expect(await discover({ timeoutMs: 300, addresses: [`127.0.0.1:${port}`] })).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
});

describe('bad targets', () => {
  it('an address that is not one is reported, not thrown', async () => {
    const r = await collectOnvif({
      address: 'bad host/name',
      port: 80,
      username: USER,
      password: PASS,
      timeoutMs: 500,
    });
    expect(r.state).toBe('Unreachable');
    expect(r.error?.kind).toBe('unsupported');
  });
});
