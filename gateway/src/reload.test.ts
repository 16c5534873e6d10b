import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CollectorError } from '@pantau/collectors/common';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, tempDir, waitFor } from '../../test/support/procs.js';
import { parseGatewayConfig } from './config.js';
import { type RunningGateway, startGateway } from './daemon.js';
import { ConfigHistory, type DeviceLook, diffDevices, judgeCheck } from './reload.js';

const AIROS = join(ROOT, 'test', 'fixtures', 'snmp', 'airos', 'device.snmprec');

function siteYaml(o: { mqttPort: number; devices: string; site?: string; user?: string; extra?: string }) {
  return `site: { id: ${o.site ?? 'rsud'}, timezone: Asia/Makassar }
mqtt: { urls: ["mqtt://127.0.0.1:${o.mqttPort}"], username: ${o.user ?? 'gw-rsud'}, password_file: site.pw }
state_dir: state
log_level: fatal
metrics: { enabled: false }
clock: { wait_for_sync_s: 0 }
defaults: { interval_s: 2, timeout_ms: 400, retries: 0 }
${o.extra ?? ''}devices:
${o.devices}`;
}

const snmpDevice = (id: string, port: number) => `  - id: ${id}
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${port} }
`;

describe('diffDevices and judgeCheck', () => {
  const dir = tempDir('reload-pure');
  afterAll(() => dir.remove());
  writeFileSync(join(dir.path, 'site.pw'), 'pw\n');
  const cfgOf = (devices: string, extra = '') =>
    parseGatewayConfig(siteYaml({ mqttPort: 1, devices, extra }), join(dir.path, 'site.yaml'));

  it('tells added, removed and changed devices apart, defaults included', () => {
    const a = cfgOf(snmpDevice('r1', 1161) + snmpDevice('r2', 1162));
    const b = cfgOf(snmpDevice('r1', 1161) + snmpDevice('r3', 1163));
    expect(diffDevices(a, b)).toEqual({ added: ['r3'], removed: ['r2'], changed: [] });
    expect(diffDevices(a, cfgOf(snmpDevice('r1', 1171) + snmpDevice('r2', 1162)))).toEqual({
      added: [],
      removed: [],
      changed: ['r1'],
    });
    // A default every device inherits changes every device.
    const slower = cfgOf(snmpDevice('r1', 1161) + snmpDevice('r2', 1162)).devices;
    const c = { ...a, devices: slower, defaults: { ...a.defaults, timeout_ms: 900 } };
    expect(diffDevices(a, c).changed).toEqual(['r1', 'r2']);
  });

  it('a device silent after the change that answered before is a failure; a new silent one is not', () => {
    const silent = new CollectorError('timeout', 'no answer');
    const looks: DeviceLook[] = [
      { id: 'old', done: true, errors: { 'ping:old': silent }, answered: false },
      { id: 'new', done: true, errors: { 'snmp:new': silent }, answered: false },
      { id: 'slow', done: false, errors: {}, answered: false },
      // A wrong community: SNMP silent, ping still answers.
      { id: 'radio', done: true, errors: { 'snmp:radio': silent }, answered: true },
    ];
    const before = new Map([
      ['old', { answered: true, okJobs: [] }],
      ['radio', { answered: true, okJobs: ['snmp:radio', 'ping:radio'] }],
      // Silent already before the change: the change cannot be blamed.
      ['slow', { answered: false, okJobs: [] }],
    ]);
    const j = judgeCheck(looks, before);
    expect(j.failures).toEqual([
      'old: answered before the change and not after it (timeout: no answer)',
      'radio: snmp answered before the change and not after it (timeout: no answer)',
    ]);
    expect(j.pending).toEqual(['slow']);
    const auth = judgeCheck(
      [
        {
          id: 'new',
          done: true,
          errors: { 'snmp:new': new CollectorError('auth', 'wrong user') },
          answered: true,
        },
      ],
      new Map(),
    );
    expect(auth.failures[0]).toContain('refused the credentials');
    const map = judgeCheck(
      [
        {
          id: 'ups',
          done: true,
          errors: {
            'modbus:ups': new CollectorError('unsupported', 'the register map does not fit this device'),
          },
          answered: false,
        },
      ],
      new Map(),
    );
    expect(map.failures).toEqual([
      'ups: its collector cannot work with the new config (the register map does not fit this device)',
    ]);
  });

  it('keeps the last 20 versions of the config', () => {
    const h = new ConfigHistory(join(dir.path, 'hist'));
    for (let i = 0; i < 25; i++)
      h.add(`v: ${i}\n`, { version: String(i), by: 't', ts: i, status: 'applied' });
    const e = h.entries();
    expect(e).toHaveLength(20);
    expect(e[0]!.n).toBe(6);
    expect(h.text(25)).toBe('v: 24\n');
    expect(h.versionOf('v: 24\n')).toBe('24');
  });
});

describe('applyConfig on a running site box', () => {
  const dir = tempDir('reload');
  const file = join(dir.path, 'site.yaml');
  let a: SimulatedAgent;
  let b: SimulatedAgent;
  let gw: RunningGateway;
  let mqttPort: number;
  let closedPort: number;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    a = await startSimulatedAgent({ recording: AIROS, port: 0 });
    b = await startSimulatedAgent({ recording: AIROS, port: 0 });
    // Nothing listens here: the box keeps its messages in the outbox, which is all this test needs.
    mqttPort = await freePort();
    closedPort = await freePort();
    writeFileSync(join(dir.path, 'site.pw'), 'gw-secret\n');
    writeFileSync(file, siteYaml({ mqttPort, devices: snmpDevice('r1', a.port) }));
    gw = await startGateway(parseGatewayConfig(readFileSync(file, 'utf8'), file), { logger: log });
    await waitFor('r1 polled', () => a.requests > 0, 10_000);
  });
  afterAll(async () => {
    await gw?.stop();
    await a?.close();
    await b?.close();
    dir.remove();
  });

  it('adds a device: written, kept as history, polled at once', async () => {
    const before = readFileSync(file, 'utf8');
    const text = siteYaml({ mqttPort, devices: snmpDevice('r1', a.port) + snmpDevice('r2', b.port) });
    const r = await gw.applyConfig(text, { by: 'tester', version: '2' });
    expect(r).toMatchObject({ ok: true, version: '2', changes: { added: ['r2'], removed: [], changed: [] } });
    expect(r.rolledBack).toBeUndefined();
    expect(b.requests).toBeGreaterThan(0);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(readFileSync(`${file}.prev`, 'utf8')).toBe(before);
    const h = new ConfigHistory(join(dir.path, 'state')).entries().at(-1)!;
    expect(h).toMatchObject({ version: '2', by: 'tester', status: 'applied' });
    expect(gw.configVersion().version).toBe('2');
  });

  it('a change that silences a device that answered is rolled back, file and pollers', async () => {
    const good = readFileSync(file, 'utf8');
    const text = siteYaml({ mqttPort, devices: snmpDevice('r1', closedPort) + snmpDevice('r2', b.port) });
    const r = await gw.applyConfig(text, { by: 'tester', version: '3', checkWindowMs: 10_000 });
    expect(r).toMatchObject({ ok: false, rolledBack: true, version: '3', previous: '2' });
    expect(r.changes.changed).toEqual(['r1']);
    expect(r.error).toContain('r1: snmp answered before the change and not after it');
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(readFileSync(`${file}.rejected`, 'utf8')).toBe(text);
    expect(gw.configVersion().version).toBe('2');
    // The old r1 is polled again, on its old port.
    const n = a.requests;
    await waitFor('r1 polled again', () => a.requests > n, 10_000);
    expect(new ConfigHistory(join(dir.path, 'state')).entries().at(-1)).toMatchObject({
      version: '3',
      status: 'rolled_back',
    });
  });

  it('a wrong community is rolled back even while the device still answers ping', async () => {
    const pinged = (community: string) => `  - id: r3
    address: 127.0.0.1
    snmp: { version: 2c, community: ${community}, port: ${a.port} }
    ping: { count: 1 }
`;
    const base = snmpDevice('r1', a.port) + snmpDevice('r2', b.port);
    const added = await gw.applyConfig(siteYaml({ mqttPort, devices: base + pinged('public') }), { by: 't' });
    expect(added).toMatchObject({ ok: true, changes: { added: ['r3'] } });
    const r = await gw.applyConfig(siteYaml({ mqttPort, devices: base + pinged('publik') }), {
      by: 't',
      checkWindowMs: 10_000,
    });
    expect(r).toMatchObject({ ok: false, rolledBack: true, changes: { changed: ['r3'] } });
    expect(r.error).toContain('r3: snmp answered before the change and not after it (timeout');
    const back = await gw.applyConfig(siteYaml({ mqttPort, devices: base }), { by: 't', version: '2b' });
    expect(back).toMatchObject({ ok: true, changes: { removed: ['r3'] } });
  });

  it('an invalid config is refused with file:line:field and nothing changes', async () => {
    const good = readFileSync(file, 'utf8');
    const text = siteYaml({ mqttPort, devices: `${snmpDevice('r1', a.port)}    interval_s: nol\n` });
    const r = await gw.applyConfig(text, { by: 'tester' });
    expect(r.ok).toBe(false);
    expect(r.rolledBack).toBeUndefined();
    expect(r.error).toMatch(/site\.yaml:12:\d+: devices\[0\]\.interval_s: must be an integer/);
    expect(readFileSync(file, 'utf8')).toBe(good);
  });

  it('a secret file missing on the box is refused (the central cannot check that)', async () => {
    const text = siteYaml({ mqttPort, devices: snmpDevice('r1', a.port) }).replace('site.pw', 'nope.pw');
    const r = await gw.applyConfig(text, { by: 'tester' });
    expect(r).toMatchObject({ ok: false });
    expect(r.error).toContain('mqtt.password_file: cannot read');
  });

  it('refuses to change the site id or the MQTT login unless allowed', async () => {
    const text = siteYaml({ mqttPort, devices: snmpDevice('r1', a.port), site: 'puskesmas' });
    const r = await gw.applyConfig(text, { by: 'tester' });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('site.id (rsud → puskesmas)');
    const user = await gw.applyConfig(siteYaml({ mqttPort, devices: snmpDevice('r1', a.port), user: 'x' }), {
      by: 'tester',
    });
    expect(user.error).toContain('mqtt.username');
  });

  it('removes a device and reports sections only a restart applies', async () => {
    const text = siteYaml({
      mqttPort,
      devices: snmpDevice('r1', a.port),
      extra: 'health_interval_s: 30\n',
    });
    const r = await gw.applyConfig(text, { by: 'tester', version: '4' });
    expect(r).toMatchObject({ ok: true, changes: { added: [], removed: ['r2'], changed: [] } });
    expect(r.restartNeeded).toEqual(['health_interval_s']);
    const n = b.requests;
    await new Promise((res) => setTimeout(res, 3000));
    expect(b.requests).toBe(n);
  });

  it('two applies at once run one after the other', async () => {
    const t1 = siteYaml({ mqttPort, devices: snmpDevice('r1', a.port) + snmpDevice('r2', b.port) });
    const t2 = siteYaml({ mqttPort, devices: snmpDevice('r1', a.port) });
    const [r1, r2] = await Promise.all([
      gw.applyConfig(t1, { by: 'x', version: '5' }),
      gw.applyConfig(t2, { by: 'y', version: '6' }),
    ]);
    expect(r1).toMatchObject({ ok: true, changes: { added: ['r2'] } });
    expect(r2).toMatchObject({ ok: true, previous: '5', changes: { removed: ['r2'] } });
    expect(existsSync(`${file}.prev`)).toBe(true);
  });
});
