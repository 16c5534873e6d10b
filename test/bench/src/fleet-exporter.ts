// The comparison side of the fleet benchmark: Debian's prometheus-snmp-exporter, configured by a
// hand-written snmp.yml that reads exactly what Pantau's collector reads from an airMAX radio, and
// measured from the outside through /proc.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { PROFILES } from '@pantau/collectors/snmp';
import { freePort } from './util.js';

export const EXPORTER_BIN = '/usr/bin/prometheus-snmp-exporter';

/** The system group and IF-MIB columns collect.ts reads every steady-state poll (SYS and IF there). */
const SYSTEM: Array<{ name: string; oid: string; type: 'gauge' | 'DisplayString' }> = [
  { name: 'sysDescr', oid: '1.3.6.1.2.1.1.1.0', type: 'DisplayString' },
  { name: 'sysObjectID', oid: '1.3.6.1.2.1.1.2.0', type: 'DisplayString' },
  { name: 'sysUpTime', oid: '1.3.6.1.2.1.1.3.0', type: 'gauge' },
  { name: 'sysName', oid: '1.3.6.1.2.1.1.5.0', type: 'DisplayString' },
];
const IF_COLUMNS: Array<{ name: string; oid: string; type: 'gauge' | 'counter' }> = [
  { name: 'ifOperStatus', oid: '1.3.6.1.2.1.2.2.1.8', type: 'gauge' },
  { name: 'ifInOctets', oid: '1.3.6.1.2.1.2.2.1.10', type: 'counter' },
  { name: 'ifOutOctets', oid: '1.3.6.1.2.1.2.2.1.16', type: 'counter' },
  { name: 'ifHCInOctets', oid: '1.3.6.1.2.1.31.1.1.1.6', type: 'counter' },
  { name: 'ifHCOutOctets', oid: '1.3.6.1.2.1.31.1.1.1.10', type: 'counter' },
];

/** How the airMAX tables are indexed (UBNT-AirMAX-MIB), as snmp_exporter index specs. */
const TABLE_INDEXES: Record<string, Array<{ labelname: string; type: string }>> = {
  // ubntRadioRssiEntry: radio index, chain index.
  '1.3.6.1.4.1.41112.1.4.2.1': [
    { labelname: 'radio', type: 'gauge' },
    { labelname: 'chain', type: 'gauge' },
  ],
  // ubntStaEntry: radio index, station MAC (six arcs).
  '1.3.6.1.4.1.41112.1.4.7.1': [
    { labelname: 'radio', type: 'gauge' },
    { labelname: 'station', type: 'PhysAddress48' },
  ],
};

/** Metric names a scrape of a simulated airMAX radio must contain, or the scrape did not read it. */
export const REQUIRED_METRICS = ['sysUpTime', 'airmax_rx_power_dbm', 'airmax_frequency_mhz', 'ifHCInOctets'];

export interface ExporterConfig {
  /** snmp.yml text. */
  yaml: string;
  gets: number;
  walks: number;
}

/**
 * The snmp.yml: one module `airmax`, v2c, community public, the collector's timeout, retries and
 * max-repetitions; GET for the exact scalar instances the collector GETs, a walk of each column the
 * collector walks. Before 0.23 the file is a flat map of modules with auth inside each module; from
 * 0.23 on it is `auths:` plus `modules:`.
 */
export function exporterConfig(version: [number, number]): ExporterConfig {
  const airmax = PROFILES.find((p) => p.id === 'airmax');
  if (!airmax) throw new Error('the airmax profile is gone from collectors/snmp/profiles');
  const gets: string[] = SYSTEM.map((s) => s.oid);
  const walks: string[] = [];
  const metrics: string[] = [];
  const metric = (
    name: string,
    oid: string,
    type: string,
    indexes: Array<{ labelname: string; type: string }> = [],
  ) => {
    metrics.push(`  - name: ${name}\n    oid: ${oid}\n    type: ${type}`);
    if (indexes.length > 0)
      metrics.push(
        `    indexes:\n${indexes.map((i) => `    - labelname: ${i.labelname}\n      type: ${i.type}`).join('\n')}`,
      );
  };
  for (const s of SYSTEM) metric(s.name, s.oid.replace(/\.0$/, ''), s.type);
  for (const s of airmax.scalars) {
    gets.push(s.oid);
    const arcs = s.oid.split('.');
    const instance = arcs.pop();
    // `.0` is a true scalar; `.1` is row 1 of a per-radio table the collector reads by GET.
    metric(
      `airmax_${s.metric}`,
      arcs.join('.'),
      'gauge',
      instance === '0' ? [] : [{ labelname: 'radio', type: 'gauge' }],
    );
  }
  for (const t of airmax.tables) {
    const indexes = TABLE_INDEXES[t.entry];
    if (!indexes || t.index.from === 'none')
      throw new Error(`fleet bench: no snmp_exporter index spec for airmax table ${t.entry}`);
    for (const c of t.columns) {
      const oid = `${t.entry}.${c.column}`;
      walks.push(oid);
      metric(`airmax_${t.index.label}_${c.metric}`, oid, 'gauge', indexes);
    }
  }
  for (const c of IF_COLUMNS) {
    walks.push(c.oid);
    metric(c.name, c.oid, c.type, [{ labelname: 'ifIndex', type: 'gauge' }]);
  }
  const list = (xs: string[]) => xs.map((x) => `  - ${x}`).join('\n');
  const body = `  walk:\n${list(walks)}\n  get:\n${list(gets)}\n  metrics:\n${metrics.join('\n')}\n  timeout: 2s\n  retries: 1\n  max_repetitions: 20\n`;
  const split = version[0] > 0 || version[1] >= 23;
  const yaml = split
    ? `# Written by the Pantau fleet benchmark.\nauths:\n  public_v2:\n    community: public\n    version: 2\nmodules:\n  airmax:\n${body.replace(/^/gm, '  ')}`
    : `# Written by the Pantau fleet benchmark (snmp_exporter < 0.23 format).\nairmax:\n  version: 2\n  auth:\n    community: public\n${body}`;
  return { yaml, gets: gets.length, walks: walks.length };
}

/** The exporter's version as [major, minor] and its version line; throws with the install hint. */
export function exporterVersion(): { version: [number, number]; line: string } {
  if (!existsSync(EXPORTER_BIN))
    throw new Error(`${EXPORTER_BIN} missing: apt-get install -y prometheus-snmp-exporter`);
  const r = spawnSync(EXPORTER_BIN, ['--version'], { encoding: 'utf8' });
  const line = `${r.stdout}${r.stderr}`.split('\n').find((l) => /version/.test(l)) ?? '';
  const m = /version (\d+)\.(\d+)/.exec(line);
  if (!m) throw new Error(`cannot read the version of ${EXPORTER_BIN}: ${line || 'no output'}`);
  return { version: [Number(m[1]), Number(m[2])], line: line.trim() };
}

export interface Exporter {
  proc: ChildProcess;
  port: number;
  log: string[];
}

export async function startExporter(configFile: string): Promise<Exporter> {
  const port = await freePort();
  const proc = spawn(
    EXPORTER_BIN,
    [`--web.listen-address=127.0.0.1:${port}`, `--config.file=${configFile}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => log.push(d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`snmp_exporter exited at start: ${log.join('').trim()}`);
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { proc, port, log };
    if (Date.now() > deadline) throw new Error(`snmp_exporter not listening on ${port}: ${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ScrapeResult {
  samples: number;
  packetsSent: number;
  packetsRetried: number;
}

/** One scrape of one radio through the exporter; throws unless it returned the radio's metrics. */
export async function scrape(port: number, agentPort: number): Promise<ScrapeResult> {
  const url = `http://127.0.0.1:${port}/snmp?target=127.0.0.1:${agentPort}&module=airmax`;
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`snmp_exporter ${res.status} for ${agentPort}: ${body.slice(0, 300)}`);
  let samples = 0;
  let packetsSent = Number.NaN;
  let packetsRetried = 0;
  const names = new Set<string>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (name === 'snmp_scrape_packets_sent') packetsSent = value;
    else if (name === 'snmp_scrape_packets_retried') packetsRetried = value;
    else if (!name.startsWith('snmp_scrape_')) {
      samples++;
      names.add(name);
    }
  }
  const missing = REQUIRED_METRICS.filter((m) => !names.has(m));
  if (samples === 0 || missing.length > 0)
    throw new Error(
      `snmp_exporter scrape of 127.0.0.1:${agentPort} returned ${samples} samples, missing ${missing.join(', ')}: ${body.slice(0, 300)}`,
    );
  return { samples, packetsSent, packetsRetried };
}

let clkTck = 0;

/** User + system CPU of a process (all its threads) in ms, from /proc/PID/stat. */
export function procCpuMs(pid: number): number {
  if (clkTck === 0) clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / clkTck;
}

/** Peak (VmHWM) and current (VmRSS) resident memory in MB, from /proc/PID/status. */
export function procRssMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}
