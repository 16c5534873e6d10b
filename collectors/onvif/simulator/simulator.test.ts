// The simulated camera's protocol behaviour, driven with hand-built requests over real HTTP/UDP.

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD_TEXT_TYPE, passwordDigest } from '../auth.js';
import { parseOnvifDateTime, parseProfiles } from '../collect.js';
import { probeMessage } from '../discovery.js';
import { child, findDeep, parseXml, textAt } from '../xml.js';
import {
  addSubProfile,
  defaultFixturesDir,
  type OnvifSimulator,
  type OnvifSimulatorOptions,
  renderClock,
  rewriteAddresses,
  startOnvifSimulator,
} from './index.js';

const USER = 'operator';
const PASS = 'pantau';
const running: OnvifSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function sim(o: Partial<OnvifSimulatorOptions> = {}) {
  const s = await startOnvifSimulator({
    username: USER,
    password: PASS,
    rtspBase: 'rtsp://127.0.0.1:8554/a',
    ...o,
  });
  running.push(s);
  return s;
}

function envelope(inner: string, header = ''): string {
  return (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
    `xmlns:tt="http://www.onvif.org/ver10/schema"><s:Header>${header}</s:Header><s:Body>${inner}</s:Body></s:Envelope>`
  );
}

function wsse(o: { created: string; password?: string; nonce?: Buffer; text?: boolean }): string {
  const nonce = o.nonce ?? randomBytes(16);
  const pw = o.text ? (o.password ?? PASS) : passwordDigest(nonce, o.created, o.password ?? PASS);
  const type = o.text
    ? PASSWORD_TEXT_TYPE
    : 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
  return (
    '<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>' +
    `<Username>${USER}</Username><Password Type="${type}">${pw}</Password><Nonce>${nonce.toString('base64')}</Nonce>` +
    `<Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">${o.created}</Created>` +
    '</UsernameToken></Security>'
  );
}

async function post(s: OnvifSimulator, inner: string, header = '', path = '/onvif/device_service') {
  const res = await fetch(`http://${s.host}:${s.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/soap+xml' },
    body: envelope(inner, header),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    headers: res.headers,
    body: child(parseXml(text), 'Body')!.children[0]!,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('simulated ONVIF camera', () => {
  it('answers GetSystemDateAndTime without credentials, with its own (offset) clock', async () => {
    const s = await sim({ clockOffsetMs: -7_200_000 });
    const r = await post(s, '<tds:GetSystemDateAndTime/>');
    expect(r.status).toBe(200);
    const t = parseOnvifDateTime(child(findDeep(r.body, 'SystemDateAndTime'), 'UTCDateTime'))!;
    expect(Math.abs(t - (Date.now() - 7_200_000))).toBeLessThan(2000);
    expect(s.requests.GetSystemDateAndTime).toBe(1);
  });

  it('wants credentials for everything else: a fault on a WS-Security camera, a Digest challenge on a digest one', async () => {
    const w = await sim({ auth: 'wsse' });
    const r = await post(w, '<tds:GetDeviceInformation/>');
    expect(r.status).toBe(400);
    expect(r.body.name).toBe('Fault');
    expect(r.text).toContain('ter:NotAuthorized');

    const d = await sim({ auth: 'digest' });
    const res = await fetch(d.url, { method: 'POST', body: envelope('<tds:GetDeviceInformation/>') });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Digest realm="[^"]+", qop="auth", nonce="[0-9a-f]{32}"/,
    );
  });

  it('checks Created against its clock within 5 s, the digest, and refuses a replayed nonce', async () => {
    const s = await sim({ auth: 'wsse', clockOffsetMs: 60_000 });
    const camera = () => Date.now() + 60_000;
    const ok = await post(s, '<tds:GetDeviceInformation/>', wsse({ created: iso(camera() + 3000) }));
    expect(ok.status).toBe(200);
    expect(textAt(ok.body, 'Manufacturer')).toBe('Mockup Manufacturer');

    const late = await post(s, '<tds:GetDeviceInformation/>', wsse({ created: iso(camera() - 7000) }));
    expect(late.status).toBe(400);
    expect(late.text).toMatch(/Created is -7\.\d s away from the camera clock/);

    const ours = await post(s, '<tds:GetDeviceInformation/>', wsse({ created: iso(Date.now()) }));
    expect(ours.text).toMatch(/Created is -60\.\d s away/);

    const wrong = await post(
      s,
      '<tds:GetDeviceInformation/>',
      wsse({ created: iso(camera()), password: 'x' }),
    );
    expect(wrong.text).toContain('wrong password digest');

    const nonce = randomBytes(16);
    const created = iso(camera());
    expect((await post(s, '<tds:GetDeviceInformation/>', wsse({ created, nonce }))).status).toBe(200);
    const replay = await post(s, '<tds:GetDeviceInformation/>', wsse({ created, nonce }));
    expect(replay.text).toContain('nonce replayed');

    const text = await post(s, '<tds:GetDeviceInformation/>', wsse({ created: 'whenever', text: true }));
    expect(text.status).toBe(200);
  });

  it('serves the recorded answers with the recorded address replaced by its own', async () => {
    const s = await sim({ auth: 'wsse' });
    const h = () => wsse({ created: iso(Date.now()) });
    const caps = await post(s, '<tds:GetCapabilities/>', h());
    expect(caps.text).not.toContain('192.168.68.111');
    expect(textAt(findDeep(caps.body, 'Media'), 'XAddr')).toBe(`http://127.0.0.1:${s.port}/onvif/services`);
    const svcs = await post(s, '<tds:GetServices/>', h());
    expect(svcs.text).toContain(`http://127.0.0.1:${s.port}/onvif/services`);
    const iface = await post(s, '<tds:GetNetworkInterfaces/>', h());
    expect(iface.status).toBe(200);
    expect(iface.text).not.toContain('192.168.68.111');
    const unknown = await post(s, '<tds:GetFrobnicator/>', h());
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('ter:ActionNotSupported');
    const media = await post(
      s,
      '<GetStreamUri xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>nope</ProfileToken></GetStreamUri>',
      h(),
      '/onvif/services',
    );
    expect(media.text).toContain('ter:NoProfile');
  });

  it('SetSystemDateAndTime moves its clock to the time asked for', async () => {
    const s = await sim({ auth: 'wsse', clockOffsetMs: 3_600_000 });
    const want = new Date(Date.UTC(2030, 5, 15, 12, 0, 0));
    const r = await post(
      s,
      '<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType><tds:DaylightSavings>false</tds:DaylightSavings>' +
        '<tds:TimeZone><tt:TZ>WITA-8</tt:TZ></tds:TimeZone><tds:UTCDateTime><tt:Time><tt:Hour>12</tt:Hour><tt:Minute>0</tt:Minute>' +
        '<tt:Second>0</tt:Second></tt:Time><tt:Date><tt:Year>2030</tt:Year><tt:Month>6</tt:Month><tt:Day>15</tt:Day></tt:Date>' +
        '</tds:UTCDateTime></tds:SetSystemDateAndTime>',
      wsse({ created: iso(Date.now() + 3_600_000) }),
    );
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('SetSystemDateAndTimeResponse');
    expect(r.text).not.toContain('wrong response');
    expect(Math.abs(s.clockOffsetMs() - (want.getTime() - Date.now()))).toBeLessThan(1000);
    const now = await post(s, '<tds:GetSystemDateAndTime/>');
    expect(textAt(findDeep(now.body, 'TimeZone'), 'TZ')).toBe('WITA-8');
  });

  it('silent mode answers 404 text; hang mode never answers; garbage mode answers broken XML', async () => {
    const s = await sim({ mode: 'silent' });
    const r = await fetch(s.url, { method: 'POST', body: envelope('<tds:GetSystemDateAndTime/>') });
    expect(r.status).toBe(404);
    expect(await r.text()).toBe('Not Found\n');
    s.setMode('hang');
    await expect(
      fetch(s.url, { method: 'POST', body: 'x', signal: AbortSignal.timeout(200) }).then((x) => x.text()),
    ).rejects.toThrow();
    s.setMode('garbage');
    const g = await fetch(s.url, { method: 'POST', body: 'x' });
    const garbage = Buffer.from(await g.arrayBuffer());
    expect(() => parseXml(garbage)).toThrow();
  });

  it('answers a WS-Discovery Probe from the recorded ProbeMatch, relating it to the probe', async () => {
    const s = await sim({ discoveryPort: 0, name: 'Lapangan Gasis 1' });
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const got = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
    sock.send(Buffer.from(probeMessage('uuid:test-probe-1')), s.discoveryPort!, '127.0.0.1');
    const root = parseXml(await got);
    sock.close();
    expect(textAt(child(root, 'Header'), 'RelatesTo')).toBe('uuid:test-probe-1');
    const match = findDeep(root, 'ProbeMatch');
    expect(textAt(match, 'XAddrs')).toBe(s.url);
    expect(textAt(match, 'EndpointReference', 'Address')).toBe(s.endpoint);
    expect(textAt(match, 'Scopes')).toContain('onvif://www.onvif.org/name/Lapangan%20Gasis%201');
  });
});

describe('fixture rendering', () => {
  const dir = defaultFixturesDir();
  const read = (f: string) => readFileSync(join(dir, `${f}.xml`), 'utf8');

  it('sets the clock in a GetSystemDateAndTime answer', () => {
    const ms = Date.UTC(2031, 1, 3, 4, 5, 6);
    const xml = renderClock(read('GetSystemDateAndTime'), ms, { ntp: true });
    const sdt = findDeep(parseXml(xml), 'SystemDateAndTime');
    expect(parseOnvifDateTime(child(sdt, 'UTCDateTime'))).toBe(ms);
    expect(textAt(sdt, 'DateTimeType')).toBe('NTP');
  });

  it('adds a sub-stream profile after the recorded main one', () => {
    const profiles = parseProfiles(child(parseXml(addSubProfile(read('GetProfiles'))), 'Body')!.children[0]!);
    expect(profiles.map((p) => [p.token, p.width, p.height])).toEqual([
      ['main', 1920, 1080],
      ['sub', 640, 360],
    ]);
  });

  it('points RTSP URIs at the local source and HTTP at the simulator', () => {
    const xml = rewriteAddresses(
      read('GetStreamUri'),
      'http://127.0.0.1:9',
      'rtsp://127.0.0.1:8554/x',
      '127.0.0.1',
    );
    expect(xml).toContain('<tt:Uri>rtsp://127.0.0.1:8554/x</tt:Uri>');
    expect(xml).not.toContain('192.168.68.111');
  });
});
