// Vendor OIDs served by net-snmp's real agent (Debian snmpd): the airMAX recording's UBNT subtree and
// its IEEE802dot11-MIB model/firmware are handed to snmpd through `pass_persist` (test/support/
// pass-persist.mjs), sysObjectID and sysDescr through snmpd.conf, and snmpd answers everything else
// (uptime, IF-MIB) itself. The collector (v2c and v3 authPriv), the gateway's `probe snmp` CLI and the
// gateway daemon publishing to the broker must all decode the values LibreNMS decoded from the walk.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CollectorResult, isCollectorError } from '@pantau/collectors/common';
import {
  collectSnmp,
  loadRecording,
  newSnmpMemory,
  PROFILES,
  type Profile,
  SnmpSession,
  type SnmpTarget,
} from '@pantau/collectors/snmp';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import type { DeviceStatePayload, MetricName, Reading, TelemetryPayload } from '@pantau/contract';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);
const SNMPD = '/usr/sbin/snmpd';
const FIXTURE = join(ROOT, 'test/fixtures/snmp/airos');
const RECORDING = join(FIXTURE, 'device.snmprec');
const PASS_PERSIST = join(ROOT, 'test/support/pass-persist.mjs');
/** UBNT-AirMAX-MIB lives here. */
const UBNT = '.1.3.6.1.4.1.41112';
/** IEEE802dot11-MIB: airOS names its model and firmware here (dot11manufacturerProductName/Version). */
const DOT11 = '.1.2.840.10036';
const SNMP_IN_ASN_PARSE_ERRS = '1.3.6.1.2.1.11.6.0';

interface Expected {
  sysObjectID: string;
  sysDescr: string;
  vendor: string;
  model: string | null;
  version: string | null;
  wireless: Array<{
    class: string;
    oid: string;
    value: number;
    descr: string;
    snmprec_raw: { value: string };
  }>;
}

const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const airmax = PROFILES.find((p) => p.id === 'airmax')!;

// ---- The comparison vendors.test.ts makes, for the airMAX recording (reimplemented, not shared) ----

/** Our unit → LibreNMS's unit for that class. */
const TO_LIBRENMS: Partial<Record<MetricName, number>> = { distance_m: 1 / 1000 };

interface Source {
  metric: MetricName;
  labels: Record<string, string>;
  noValue: number[];
}

/** Which metric (and labels) the profile makes of an OID: scalars, and tables indexed by `last`/`mac6`. */
function sourceOf(p: Profile, oid: string): Source | null {
  const o = oid.replace(/^\./, '');
  for (const s of p.scalars)
    if (s.oid === o) return { metric: s.metric, labels: s.labels ?? {}, noValue: s.noValue ?? [] };
  for (const t of p.tables)
    for (const c of t.columns) {
      const prefix = `${t.entry}.${c.column}.`;
      if (!o.startsWith(prefix)) continue;
      const index = o.slice(prefix.length).split('.').map(Number);
      const row: Record<string, string> =
        t.index.from === 'last'
          ? { [t.index.label]: String(index[index.length - 1]) }
          : t.index.from === 'mac6'
            ? {
                [t.index.label]: index
                  .slice(-6)
                  .map((b) => b.toString(16).padStart(2, '0'))
                  .join(':'),
              }
            : {};
      return { metric: c.metric, labels: { ...row, ...c.labels }, noValue: c.noValue ?? [] };
    }
  return null;
}

function decodedValue(readings: Reading[], src: Source): number | undefined {
  const key = (l: Record<string, string> | undefined) => JSON.stringify(Object.entries(l ?? {}).sort());
  const want = key(src.labels);
  return readings.find((r) => key(r.labels) === want && src.metric in r.values)?.values[src.metric];
}

/** Every radio figure LibreNMS read from the UBNT subtree, decoded from these readings. */
function expectRadioValues(readings: Reading[], where: string): void {
  expect(expected.wireless.length).toBeGreaterThan(0);
  for (const w of expected.wireless) {
    expect(w.oid.startsWith(`${UBNT}.`), `${w.oid} is outside the vendor subtree`).toBe(true);
    const src = sourceOf(airmax, w.oid);
    expect(src, `the airmax profile has no source for ${w.oid}`).not.toBeNull();
    const ours = decodedValue(readings, src!);
    const what = `${where}: ${w.descr} (${w.oid}) → ${src!.metric} ${JSON.stringify(src!.labels)}`;
    if (src!.noValue.includes(Number(w.snmprec_raw.value))) {
      expect(ours, `${what} should be absent`).toBeUndefined();
      continue;
    }
    expect(ours, what).toBeDefined();
    expect(ours! * (TO_LIBRENMS[src!.metric] ?? 1), what).toBeCloseTo(w.value, 6);
  }
}

function expectAirmaxIdentity(r: Pick<CollectorResult, 'identity' | 'kind'>): void {
  expect(r.kind).toBe('radio');
  expect(r.identity).toMatchObject({
    profile: 'airmax',
    vendor: expected.vendor,
    model: expected.model,
    firmware: expected.version,
    sysObjectID: expected.sysObjectID.replace(/^\./, ''),
    sysDescr: expected.sysDescr,
  });
}

/** What the radio itself said: everything but uptime and interfaces, which snmpd answers for the host. */
function radioPart(r: CollectorResult) {
  return {
    values: Object.fromEntries(Object.entries(r.readings[0]!.values).filter(([k]) => k !== 'uptime_s')),
    labelled: r.readings
      .slice(1)
      .filter((x) => !x.labels?.iface)
      .map((x) => ({ labels: x.labels, values: x.values })),
    identity: { ...r.identity, macs: undefined },
    kind: r.kind,
    notices: r.notices,
    peers: r.peers,
  };
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

describe('vendor OIDs served by a real snmpd (pass_persist)', () => {
  const dir = tempDir('snmpd-vendor');
  let snmpd: ChildProcess;
  let snmpdLog = '';
  let port: number;
  const v3 = {
    user: 'pantau',
    level: 'authPriv' as const,
    authProtocol: 'sha' as const,
    authKey: 'rahasia-auth-2',
    privProtocol: 'aes' as const,
    privKey: 'rahasia-priv-2',
  };
  const target = (over: Partial<SnmpTarget> = {}): SnmpTarget => ({
    address: '127.0.0.1',
    port,
    version: '2c',
    community: 'pantau-ro',
    timeoutMs: 1000,
    retries: 0,
    ...over,
  });
  const poll = async (t: SnmpTarget): Promise<CollectorResult> => {
    const session = new SnmpSession(t);
    try {
      return await collectSnmp(session, newSnmpMemory());
    } finally {
      session.close();
    }
  };

  beforeAll(async () => {
    requireBinary(SNMPD, 'apt-get install -y snmpd');
    port = await freeUdpPort();
    // sysObjectID and sysDescr as the radio recorded them; snmpd.conf sets both.
    const sys = new Map(loadRecording(RECORDING).map((v) => [v.oid.join('.'), v.value]));
    const sysObjectID = sys.get('1.3.6.1.2.1.1.2.0');
    const sysDescr = sys.get('1.3.6.1.2.1.1.1.0');
    if (!Array.isArray(sysObjectID) || !Buffer.isBuffer(sysDescr))
      throw new Error(`${RECORDING} lacks sysObjectID or sysDescr`);
    const wrappers = [
      { name: 'ubnt', subtree: UBNT },
      { name: 'dot11', subtree: DOT11 },
    ].map(({ name, subtree }) => {
      const path = join(dir.path, `pass-${name}.sh`);
      const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
      writeFileSync(
        path,
        `#!/bin/sh\nexec ${q(process.execPath)} ${q(PASS_PERSIST)} ${q(RECORDING)} ${subtree}\n`,
      );
      chmodSync(path, 0o755);
      return { subtree, path };
    });
    const conf = join(dir.path, 'snmpd.conf');
    writeFileSync(
      conf,
      [
        `agentAddress udp:127.0.0.1:${port}`,
        `persistentDir ${join(dir.path, 'persist')}`,
        'rocommunity pantau-ro 127.0.0.1',
        `createUser ${v3.user} SHA "${v3.authKey}" AES "${v3.privKey}"`,
        `rouser ${v3.user} priv`,
        `sysObjectID .${sysObjectID.join('.')}`,
        `sysDescr ${sysDescr.toString('utf8')}`,
        ...wrappers.map((w) => `pass_persist ${w.subtree} ${w.path}`),
        '',
      ].join('\n'),
    );
    snmpd = spawn(SNMPD, ['-f', '-Lo', '-C', '-c', conf, '-p', join(dir.path, 'snmpd.pid')], {
      env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir.path, 'persist'), MIBS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      snmpdLog = (snmpdLog + d.toString()).slice(-20_000);
    };
    snmpd.stdout?.on('data', keep);
    snmpd.stderr?.on('data', keep);
    // Up when a vendor OID comes back: snmpd is listening and has started the pass_persist program.
    await waitFor(
      'snmpd answering a vendor OID through pass_persist',
      async () => {
        if (snmpd.exitCode !== null) throw new Error(`snmpd exited ${snmpd.exitCode}: ${snmpdLog}`);
        const s = new SnmpSession(target({ timeoutMs: 300 }));
        try {
          const [v] = await s.get(['1.3.6.1.4.1.41112.1.4.5.1.5.1']);
          return v?.value === -69;
        } finally {
          s.close();
        }
      },
      20_000,
      300,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- snmpd ---\n${snmpdLog}`);
    });
  }, 30_000);

  afterAll(async () => {
    if (snmpd && snmpd.exitCode === null && snmpd.signalCode === null) {
      const exited = new Promise((r) => snmpd.once('exit', r));
      snmpd.kill('SIGTERM');
      await exited;
    }
    dir.remove();
  });

  it('serves the recording through snmpd: sysObjectID and sysDescr from snmpd.conf, vendor OIDs from pass_persist', async () => {
    const s = new SnmpSession(target());
    try {
      const [descr, objectId] = await s.get(['1.3.6.1.2.1.1.1.0', '1.3.6.1.2.1.1.2.0']);
      expect(String(descr?.value)).toBe(expected.sysDescr);
      expect(`.${String(objectId?.value).replace(/^\./, '')}`).toBe(expected.sysObjectID);
      // The whole UBNT subtree walks back in order with its recorded types: the helper speaks pass_persist.
      const walked = (await s.walkColumns(['1.3.6.1.4.1.41112'])).get('1.3.6.1.4.1.41112')!;
      const recorded = loadRecording(RECORDING).filter((v) =>
        v.oid.join('.').startsWith('1.3.6.1.4.1.41112.'),
      );
      expect(walked.map((v) => [v.oid.join('.'), v.type, Number(v.value)])).toEqual(
        recorded.map((v) => [v.oid.join('.'), v.tag, Number(v.value)]),
      );
    } finally {
      s.close();
    }
  });

  it('v2c: the collector detects airMAX and decodes the radio figures as LibreNMS did', async () => {
    const r = await poll(target());
    expectAirmaxIdentity(r);
    expectRadioValues(r.readings, 'v2c');
    // snmpd's own part is there too: the host's interfaces, and its uptime instead of the radio's.
    expect(r.readings.some((x) => x.labels?.iface === 'lo')).toBe(true);
    expect(r.readings[0]!.values.uptime_s).toBeLessThan(3600);
  });

  it('decodes exactly what the in-process simulator decodes from the same recording', async () => {
    let agent: SimulatedAgent | undefined;
    try {
      agent = await startSimulatedAgent({ recording: RECORDING, port: 0, now: () => 0 });
      const simulated = await poll({ ...target(), port: agent.port, community: 'public' });
      const real = await poll(target());
      expect(radioPart(real)).toEqual(radioPart(simulated));
    } finally {
      await agent?.close();
    }
  });

  it('v3 authPriv (SHA/AES): the same detection and figures', async () => {
    const r = await poll(target({ version: '3', v3 }));
    expectAirmaxIdentity(r);
    expectRadioValues(r.readings, 'v3');
  });

  it('v3 with a wrong auth key is an auth error', async () => {
    const err = await poll(target({ version: '3', v3: { ...v3, authKey: 'salah-kunci-2' } })).catch(
      (e: unknown) => e,
    );
    expect(isCollectorError(err) && err.kind).toBe('auth');
  });

  it('v3 with a wrong priv key: snmpd drops the message unanswered, so the collector can only time out', async () => {
    // net-snmp 5.9 cannot parse the scopedPDU decrypted with the wrong key, counts it in
    // snmpInASNParseErrs and sends no usmStatsDecryptionErrors report: nothing tells it from silence.
    const parseErrs = async () => {
      const s = new SnmpSession(target());
      try {
        return Number((await s.get([SNMP_IN_ASN_PARSE_ERRS]))[0]!.value);
      } finally {
        s.close();
      }
    };
    const before = await parseErrs();
    const err = await poll(
      target({ version: '3', timeoutMs: 500, v3: { ...v3, privKey: 'salah-kunci-2' } }),
    ).catch((e: unknown) => e);
    expect(isCollectorError(err) && err.kind).toBe('timeout');
    // …so the message says what the silence may mean, for the installer reading it.
    expect((err as Error).message).toContain('wrong priv key');
    expect(await parseErrs()).toBeGreaterThan(before);
  });

  it('gateway CLI: `probe snmp --json` prints the detected vendor and the same radio figures', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        join(ROOT, 'gateway/dist/cli.js'),
        'probe',
        'snmp',
        '--address',
        '127.0.0.1',
        '--port',
        String(port),
        '--community',
        'pantau-ro',
        '--json',
      ],
      { timeout: 20_000 },
    );
    const r = JSON.parse(stdout) as CollectorResult;
    expectAirmaxIdentity(r);
    expectRadioValues(r.readings, 'probe --json');
  });

  describe('gateway daemon polling snmpd over v3, publishing to the broker', () => {
    let broker: Daemon;
    let gateway: Daemon;
    let reader: MqttClient;
    const messages: Array<{ topic: string; payload: unknown }> = [];

    beforeAll(async () => {
      const mqttPort = await freePort();
      const cred = join(dir.path, 'credentials.yaml');
      const brokerCli = (args: string[]) =>
        run(process.execPath, [join(ROOT, 'broker/dist/cli.js'), ...args]);
      await brokerCli([
        'credentials',
        'add-gateway',
        '--file',
        cred,
        '--site',
        'rsud',
        '--password',
        'gw-secret-2',
      ]);
      await brokerCli([
        'credentials',
        'add-reader',
        '--file',
        cred,
        '--username',
        'pembaca',
        '--password',
        'reader-secret-2',
      ]);
      writeFileSync(
        join(dir.path, 'central.yaml'),
        `mqtt: { host: 127.0.0.1, port: ${mqttPort} }\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nlog_level: warn\n`,
      );
      writeFileSync(join(dir.path, 'gateway.pw'), 'gw-secret-2\n');
      writeFileSync(
        join(dir.path, 'site.yaml'),
        `site: { id: rsud, name: "RSUD Latemmamala" }
mqtt: { urls: ["mqtt://127.0.0.1:${mqttPort}"], username: gw-rsud, password_file: gateway.pw, keepalive_s: 5 }
state_dir: gw-state
log_level: warn
defaults: { interval_s: 1, timeout_ms: 1000, retries: 0 }
health_interval_s: 2
devices:
  - id: ap-sektor
    name: "AP sektor RSUD"
    kind: radio
    address: 127.0.0.1
    snmp:
      version: "3"
      port: ${port}
      v3:
        user: ${v3.user}
        level: authPriv
        auth_protocol: sha
        auth_key: "${v3.authKey}"
        priv_protocol: aes
        priv_key: "${v3.privKey}"
    ping: { enabled: false }
`,
      );
      broker = runDaemon('broker', ['--config', join(dir.path, 'central.yaml')]);
      gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'site.yaml')]);
      reader = await waitFor(
        'broker accepting the reader',
        () =>
          mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
            username: 'pembaca',
            password: 'reader-secret-2',
            reconnectPeriod: 0,
            connectTimeout: 2000,
          }),
        20_000,
        250,
      );
      reader.on('message', (topic, payload) => {
        messages.push({ topic, payload: JSON.parse(payload.toString()) as unknown });
      });
      await reader.subscribeAsync('pantau/v1/rsud/#', { qos: 1 });
    }, 40_000);

    afterAll(async () => {
      await reader?.endAsync();
      // One after the other: a gateway told to stop while its broker goes away waits for a PUBACK forever.
      for (const d of [gateway, broker]) {
        if (!d) continue;
        const timer = setTimeout(() => d.proc.kill('SIGKILL'), 8_000);
        await d.stop();
        clearTimeout(timer);
      }
    }, 20_000);

    it('publishes telemetry carrying the airMAX radio figures', async () => {
      const telemetry = await waitFor(
        'telemetry with radio figures',
        () =>
          messages
            .filter((m) => m.topic === 'pantau/v1/rsud/ap-sektor/telemetry')
            .map((m) => m.payload as TelemetryPayload)
            .find((p) => p.readings[0]?.values.rx_power_dbm !== undefined),
        30_000,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}\n--- gateway ---\n${gateway.output()}\n--- broker ---\n${broker.output()}`,
        );
      });
      expect(telemetry.device).toBe('ap-sektor');
      expectRadioValues(telemetry.readings, 'telemetry');
    });

    it('publishes the device state with the vendor, model, firmware and key figures', async () => {
      const state = await waitFor(
        'device state with identity and figures',
        () =>
          messages
            .filter((m) => m.topic === 'pantau/v1/rsud/ap-sektor/state')
            .map((m) => m.payload as DeviceStatePayload)
            .find((s) => s.vendor !== undefined && s.figures.rx_power_dbm !== undefined),
        30_000,
      );
      expect(state).toMatchObject({
        device: 'ap-sektor',
        kind: 'radio',
        vendor: expected.vendor,
        model: expected.model,
        firmware: expected.version,
      });
      expect(state.status).not.toBe('down');
      expect(state.reasons.map((r) => r.code)).not.toContain('snmp_auth');
      // Raw values of the recording, unchanged through snmpd, the collector and MQTT; SNR = signal − noise.
      expect(state.figures.rx_power_dbm?.value).toBe(-69);
      expect(state.figures.noise_floor_dbm?.value).toBe(-103);
      expect(state.figures.snr_db?.value).toBe(34);
      expect(state.figures.ccq_pct?.value).toBe(92);
      expect(state.figures.frequency_mhz?.value).toBe(5745);
      expect(state.figures.stations_count?.value).toBe(22);
    });
  });
});
