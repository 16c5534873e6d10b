import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'pantau-gwcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `site: { id: rsud, name: "RSUD Latemmamala" }
mqtt:
  urls: [mqtt://10.10.0.1:1883]
  username: gw-rsud
  password: rahasia
devices:
  - id: ptp-scc
    address: 10.10.1.2
    snmp: { version: 2c, community: public }
  - id: cam-1
    kind: host
    address: kamera-1.pemda.local
`;

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function issuesOf(text: string): string[] {
  const f = write('site.yaml', text);
  try {
    loadGatewayConfig(f);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}:${i.field}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('site.yaml validation', () => {
  it('accepts a good file and fills defaults', () => {
    const cfg = loadGatewayConfig(write('good.yaml', GOOD));
    expect(cfg.defaults.interval_s).toBe(30);
    expect(cfg.devices[0]?.snmp?.port).toBe(161);
    expect(cfg.password).toBe('rahasia');
  });

  it('an unknown key names its line and field', () => {
    expect(issuesOf(GOOD.replace('    address: 10.10.1.2', '    adress: 10.10.1.2'))).toEqual([
      '7:devices[0].address: is required but missing',
      '8:devices[0].adress: unknown key (check the spelling)',
    ]);
  });

  it('a wrong type names its line and field', () => {
    expect(issuesOf(`${GOOD}defaults: { interval_s: "sepuluh" }\n`)).toEqual([
      '13:defaults.interval_s: must be an integer',
    ]);
  });

  it('a duplicate device id names the repeat', () => {
    expect(issuesOf(GOOD.replace('  - id: cam-1', '  - id: ptp-scc'))).toEqual([
      '10:devices[1].id: duplicate device id "ptp-scc" (first used at devices[0])',
    ]);
  });

  it('a bad address names its line and field', () => {
    expect(issuesOf(GOOD.replace('10.10.1.2', '10.10.1.256'))).toEqual([
      '8:devices[0].address: is not a valid IP address or host name',
    ]);
  });

  it('a reserved device id is refused', () => {
    expect(issuesOf(GOOD.replace('  - id: cam-1', '  - id: gateway'))).toEqual([
      '10:devices[1].id: "gateway" is reserved for the site\'s own topics',
    ]);
  });

  it('the uplink path: defaults filled, hop ids unique, "uplink" reserved for it', () => {
    const path = `uplink:\n  hops:\n    - { id: relay, address: 10.20.0.1, link: bukit-relay }\n    - { id: pusat, address: 10.0.0.1 }\n`;
    const cfg = loadGatewayConfig(write('uplink.yaml', GOOD + path));
    expect(cfg.uplink).toMatchObject({ interval_s: 300, probes: 20, probe_interval_ms: 500 });
    expect(issuesOf(GOOD + path.replace('id: pusat', 'id: relay'))).toEqual([
      '16:uplink.hops[1].id: duplicate hop id "relay" (first used at uplink.hops[0])',
    ]);
    expect(issuesOf(`${GOOD}uplink: { probe_interval_ms: 100, hops: [] }\n`)).toEqual([
      '13:uplink.probe_interval_ms: must be >= 200',
      '13:uplink.hops: needs at least 1 entry',
    ]);
    expect(issuesOf(GOOD.replace('  - id: cam-1', '  - id: uplink'))).toEqual([
      '10:devices[1].id: "uplink" is reserved for the site\'s own topics',
    ]);
  });

  it('cameras: defaults filled, settings only on cameras, a way to find the stream required', () => {
    const cam = `  - id: cam-pasar\n    kind: camera\n    address: 10.20.1.30\n    onvif: { username: admin, password: rahasia }\n    camera: { sample_s: 3 }\n`;
    const cfg = loadGatewayConfig(write('cam.yaml', GOOD + cam));
    expect(cfg.devices[2]!.camera).toMatchObject({
      sample_s: 3,
      stream: 'sub',
      thumbnail_interval_s: 600,
      confirm_polls: 2,
    });
    expect(cfg.devices[2]!.onvif).toMatchObject({ port: 80, path: '/onvif/device_service' });
    expect(cfg.devices[0]!.camera).toBeUndefined();
    expect(cfg.cameraPasswords.get('cam-pasar')).toBe('rahasia');
    expect(
      issuesOf(GOOD.replace('    snmp: { version: 2c, community: public }', '    camera: { sample_s: 3 }')),
    ).toEqual(['9:devices[0].camera: onvif and camera settings need kind: camera']);
    expect(issuesOf(`${GOOD}  - { id: cam-x, kind: camera, address: 10.0.0.9 }\n`)).toEqual([
      '13:devices[2]: a camera needs onvif (to find its stream) or camera.rtsp_url',
    ]);
  });

  it('the CLI prints file:line: field: reason and exits 2', () => {
    const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} missing: run npm run build`);
    const bad = write('bad.yaml', GOOD.replace('10.10.1.2', 'not an address'));
    const r = spawnSync(process.execPath, [cli, 'check-config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${bad}:8:14: devices[0].address: is not a valid IP address or host name`);
    const run = spawnSync(process.execPath, [cli, 'run', '--config', bad], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(
      execFileSync(process.execPath, [cli, 'check-config', write('ok.yaml', GOOD)], { encoding: 'utf8' }),
    ).toMatch(/^OK: .*2 devices/);
  });
});

describe('site.yaml mqtt.tls', () => {
  const site = (mqtt: string) => `site: { id: rsud, name: "RSUD" }\nmqtt:\n${mqtt}`;

  it('names a missing key file, a TLS block without a TLS URL, a certificate on a plain URL', () => {
    expect(
      issuesOf(
        site('  urls: [mqtts://central.lan:8883]\n  username: gw-rsud\n  tls: { cert_file: a.crt }\n'),
      ),
    ).toEqual(['5:mqtt.tls: cert_file and key_file go together']);
    expect(
      issuesOf(
        site(
          '  urls: [mqtt://central.lan]\n  username: gw-rsud\n  password: x\n  tls: { ca_file: ca.crt }\n',
        ),
      ),
    ).toEqual(['6:mqtt.tls: is set, but no URL uses mqtts:// or wss://']);
    expect(
      issuesOf(
        site(
          '  urls: [mqtts://central.lan, mqtt://10.0.0.1]\n  username: gw-rsud\n  tls: { cert_file: a.crt, key_file: a.key }\n',
        ),
      ),
    ).toEqual(['3:mqtt.urls: with a client certificate every URL must be mqtts:// or wss://']);
    expect(issuesOf(site('  urls: [mqtts://central.lan]\n  username: gw-rsud\n'))).toEqual([
      '3:mqtt: needs password_file (or password, or tls.cert_file)',
    ]);
  });

  it('reads the PEM files, and needs no password with a client certificate', () => {
    const pem = (name: string, body: string) =>
      write(name, `-----BEGIN ${body}-----\nAAAA\n-----END ${body}-----\n`);
    pem('k.key', 'PRIVATE KEY');
    // A file that claims to be a certificate but is not one is refused with its field.
    pem('bad.crt', 'CERTIFICATE');
    const text = site(
      '  urls: [mqtts://central.lan]\n  username: gw-rsud\n  tls: { ca_file: bad.crt, cert_file: bad.crt, key_file: k.key }\n',
    );
    expect(() => loadGatewayConfig(write('tls.yaml', text))).toThrow(
      /mqtt\.tls\.ca_file: .*bad\.crt is not a readable certificate/,
    );
  });
});
