// The fleet benchmark: D simulated airMAX radios spread over B site boxes, each box its own process,
// against Debian's prometheus-snmp-exporter (one process per box) reading the same OIDs from the same
// simulators, which run in processes of their own and count for neither side. Two pairings:
//  - paced (the headline): the real site box daemon, every radio polled once per interval, against
//    the exporter scraped as Prometheus would, every radio once per interval at its own offset;
//  - back to back: the collector path alone against the exporter, rounds without pause.
// Reports CPU time per device-poll, peak RSS per box and wall time per round; asserts nothing on
// timing, but fails loudly when either side did not actually read the radios.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseTopic } from '@pantau/contract';
import { Aedes } from 'aedes';
import type { BoxResult, BoxSpec } from './fleet-box.js';
import {
  type Exporter,
  exporterConfig,
  exporterVersion,
  procCpuMs,
  procRssMb,
  type ScrapeResult,
  scrape,
  startExporter,
} from './fleet-exporter.js';
import { envWhole } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

export interface FleetOptions {
  devices: number;
  boxes: number;
  rounds: number;
  /** Polls (or scrapes) in flight per box: the gateway's default `concurrency.snmp`. */
  concurrency: number;
  /** Poll interval of the daemon boxes. */
  intervalS: number;
  simulators: number;
  /** The recording every simulated radio serves. */
  recording: string;
}

export function fleetOptionsFromEnv(): FleetOptions {
  return {
    devices: envWhole('BENCH_FLEET_DEVICES', 1000),
    boxes: envWhole('BENCH_FLEET_BOXES', 10),
    rounds: envWhole('BENCH_FLEET_ROUNDS', 5),
    concurrency: envWhole('BENCH_FLEET_CONCURRENCY', 16),
    intervalS: envWhole('BENCH_FLEET_INTERVAL_S', 5),
    simulators: envWhole('BENCH_FLEET_SIMULATORS', 4),
    recording: resolve(
      process.env.BENCH_FLEET_RECORDING ?? join(ROOT, 'test/fixtures/snmp/airos/device.snmprec'),
    ),
  };
}

const children = new Set<ChildProcess>();
const out = (s: string) => process.stdout.write(s);
const log = (s: string) => process.stderr.write(`fleet: ${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

/** Lines of a child's stdout as JSON objects. */
async function* jsonLines(p: ChildProcess): AsyncGenerator<Record<string, unknown>> {
  for await (const line of createInterface({ input: p.stdout! })) {
    if (line.trim() === '') continue;
    yield JSON.parse(line) as Record<string, unknown>;
  }
}

async function startSimulators(
  devices: number,
  procs: number,
  recording: string,
): Promise<{ ports: number[]; pids: number[] }> {
  const per = Math.ceil(devices / procs);
  const sims = await Promise.all(
    Array.from({ length: procs }, async (_, i) => {
      const count = Math.min(per, devices - i * per);
      if (count <= 0) return null;
      const p = track(
        spawn(
          process.execPath,
          [
            join(ROOT, 'collectors/dist/snmp/simulator/cli.js'),
            '--recording',
            recording,
            '--count',
            String(count),
            '--scenario',
            'counters',
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        ),
      );
      const ports: number[] = [];
      for await (const m of jsonLines(p)) {
        if (typeof m.port === 'number') ports.push(m.port);
        if (m.ready) break;
      }
      if (ports.length !== count)
        throw new Error(`simulator ${i} started ${ports.length} of ${count} agents`);
      return { pid: p.pid!, ports };
    }),
  );
  const ok = sims.filter((s) => s !== null);
  return { ports: ok.flatMap((s) => s.ports), pids: ok.map((s) => s.pid) };
}

/** A broker for the daemon boxes: plain aedes, no auth, counting what each site publishes. */
async function startBroker(): Promise<{
  port: number;
  telemetry: Map<string, { messages: number; withRadio: number }>;
  close(): Promise<void>;
}> {
  const aedes = await Aedes.createBroker();
  const telemetry = new Map<string, { messages: number; withRadio: number }>();
  const RADIO = Buffer.from('"rx_power_dbm"');
  aedes.on('publish', (packet, client) => {
    if (!client) return;
    const t = parseTopic(packet.topic);
    if (t?.kind !== 'device-telemetry') return;
    let c = telemetry.get(t.site);
    if (!c) {
      c = { messages: 0, withRadio: 0 };
      telemetry.set(t.site, c);
    }
    c.messages++;
    if (Buffer.isBuffer(packet.payload) && packet.payload.includes(RADIO)) c.withRadio++;
  });
  const server: Server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('broker has no port');
  return {
    port: addr.port,
    telemetry,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function boxPorts(ports: number[], boxes: number): number[][] {
  const per = Math.ceil(ports.length / boxes);
  return Array.from({ length: boxes }, (_, b) => ports.slice(b * per, (b + 1) * per)).filter(
    (p) => p.length > 0,
  );
}

interface PhaseResult {
  label: string;
  polls: number;
  failed: number;
  cpuMs: number;
  peakRssMb: number[];
  roundWallMs: number[];
  wallMs: number;
  requests: number | null;
  simCpuMs: number;
  paced: boolean;
}

/** Runs one box process per port group, lets them all warm up, then measures them together. */
async function runBoxes(
  mode: BoxSpec['mode'],
  groups: number[][],
  opts: FleetOptions,
  simPids: number[],
  extra: (box: number) => Partial<BoxSpec> = () => ({}),
): Promise<{ results: BoxResult[]; simCpuMs: number }> {
  const procs = groups.map((ports, box) => {
    const spec: BoxSpec = {
      box,
      mode,
      ports,
      rounds: opts.rounds,
      concurrency: opts.concurrency,
      ...extra(box),
    };
    const p = track(
      spawn(process.execPath, [join(ROOT, 'test/bench/dist/fleet-box.js')], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, FLEET_BOX: JSON.stringify(spec) },
      }),
    );
    const lines = jsonLines(p);
    // A box that failed: its output may never come. A box that exited 0 left its lines to read.
    const exited = new Promise<never>((_, reject) =>
      p.once('exit', (code) => {
        if (code !== 0) reject(new Error(`${mode} box ${box} exited with ${code}`));
      }),
    );
    exited.catch(() => {});
    const next = async () => {
      const r = await Promise.race([lines.next(), exited]);
      if (r.done) throw new Error(`${mode} box ${box} closed its output`);
      return r.value;
    };
    return { p, next };
  });
  for (const b of procs) {
    const m = await b.next();
    if (m.phase !== 'warm') throw new Error(`unexpected box message ${JSON.stringify(m)}`);
  }
  const sim0 = sum(simPids.map(procCpuMs));
  for (const b of procs) b.p.stdin!.write('go\n');
  const results: BoxResult[] = [];
  for (const b of procs) results.push((await b.next()) as unknown as BoxResult);
  return { results, simCpuMs: sum(simPids.map(procCpuMs)) - sim0 };
}

function checkPantau(label: string, rs: BoxResult[], opts: FleetOptions): void {
  for (const r of rs) {
    if (r.failed > 0) throw new Error(`${label}: box ${r.box} had ${r.failed} failed polls of ${r.polls}`);
    if (r.radio_ok < r.polls)
      throw new Error(
        `${label}: box ${r.box}: only ${r.radio_ok} of ${r.polls} polls read the radio metrics`,
      );
    if (r.polls < r.devices * opts.rounds)
      throw new Error(
        `${label}: box ${r.box} measured ${r.polls} polls, expected ${r.devices * opts.rounds}`,
      );
  }
}

function summarize(
  label: string,
  { results: rs, simCpuMs }: { results: BoxResult[]; simCpuMs: number },
  paced: boolean,
): PhaseResult {
  return {
    label,
    polls: sum(rs.map((r) => r.polls)),
    failed: sum(rs.map((r) => r.failed)),
    cpuMs: sum(rs.map((r) => r.cpu_ms)),
    peakRssMb: rs.map((r) => r.max_rss_mb),
    roundWallMs: rs.flatMap((r) => r.round_wall_ms),
    wallMs: Math.max(...rs.map((r) => r.wall_ms)),
    requests: rs.every((r) => r.requests !== null) ? sum(rs.map((r) => r.requests!)) : null,
    simCpuMs,
    paced,
  };
}

async function daemonPhase(groups: number[][], opts: FleetOptions, simPids: number[], dir: string) {
  const broker = await startBroker();
  try {
    const phase = await runBoxes('daemon', groups, opts, simPids, (box) => {
      const d = join(dir, `box-${box}`);
      mkdirSync(d, { recursive: true });
      return { dir: d, mqttPort: broker.port, intervalS: opts.intervalS };
    });
    checkPantau('daemon', phase.results, opts);
    for (const r of phase.results) {
      const t = broker.telemetry.get(`bench-box-${r.box}`);
      if (!r.connected) throw new Error(`daemon box ${r.box} was not connected to the broker at the end`);
      // Every successful poll publishes one telemetry message, and each must carry the radio's rx power.
      // At most one message is between the outbox and the broker.
      const expected = (r.total_ok ?? 0) - (r.outbox ?? 0) - 1;
      if (!t || t.messages < expected)
        throw new Error(
          `daemon box ${r.box}: the broker got ${t?.messages ?? 0} telemetry messages, expected ≥ ${expected}`,
        );
      if (t.withRadio < t.messages)
        throw new Error(
          `daemon box ${r.box}: ${t.messages - t.withRadio} telemetry messages without rx power`,
        );
    }
    return summarize('pantau site box daemon', phase, true);
  } finally {
    await broker.close();
  }
}

interface ExporterPhases {
  paced: PhaseResult;
  burst: PhaseResult;
  samplesPerScrape: number;
  retried: number;
  gets: number;
  walks: number;
}

/**
 * snmp_exporter, one process per box. First paced as Prometheus drives it (every radio scraped once
 * per interval, each at its own offset within the interval), then rounds back to back; the same
 * processes, CPU from /proc/PID/stat around each measured part.
 */
async function exporterPhases(
  groups: number[][],
  opts: FleetOptions,
  simPids: number[],
  dir: string,
): Promise<ExporterPhases> {
  const { version } = exporterVersion();
  const cfg = exporterConfig(version);
  const file = join(dir, 'snmp.yml');
  writeFileSync(file, cfg.yaml);
  const label = `snmp_exporter ${version.join('.')}`;
  const exporters: Exporter[] = [];
  const all: ScrapeResult[] = [];
  const cpu = () => exporters.map((e) => procCpuMs(e.proc.pid!));
  const simCpu = () => sum(simPids.map(procCpuMs));
  const phase = (
    paced: boolean,
    scrapes: ScrapeResult[],
    cpuMs: number,
    sim: number,
    walls: number[],
    wall: number,
  ): PhaseResult => ({
    label,
    polls: scrapes.length,
    failed: 0,
    cpuMs,
    peakRssMb: exporters.map((e) => procRssMb(e.proc.pid!).peak),
    roundWallMs: walls,
    wallMs: wall,
    requests: sum(scrapes.map((x) => x.packetsSent)),
    simCpuMs: sim,
    paced,
  });
  try {
    for (let i = 0; i < groups.length; i++) {
      const e = await startExporter(file);
      track(e.proc);
      exporters.push(e);
    }
    /** One round of one exporter: its radios, `concurrency` scrapes in flight, optionally each at its offset. */
    const round = async (
      e: Exporter,
      targets: number[],
      at?: (j: number) => number,
    ): Promise<ScrapeResult[]> => {
      let next = 0;
      const got: ScrapeResult[] = [];
      const worker = async () => {
        for (let j = next++; j < targets.length; j = next++) {
          const wait = at ? at(j) - performance.now() : 0;
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          got.push(await scrape(e.port, targets[j]!));
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency }, worker));
      all.push(...got);
      return got;
    };
    // Warm-up: each exporter's first scrape of each radio (sockets, buffers, the Go heap).
    await Promise.all(exporters.map((e, i) => round(e, groups[i]!)));

    const intervalMs = opts.intervalS * 1000;
    let cpu0 = cpu();
    let sim0 = simCpu();
    let t0 = performance.now();
    const paced = await Promise.all(
      exporters.map(async (e, i) => {
        const targets = groups[i]!;
        const got: ScrapeResult[] = [];
        for (let r = 0; r < opts.rounds; r++) {
          const start = t0 + r * intervalMs;
          got.push(...(await round(e, targets, (j) => start + ((j + 0.5) / targets.length) * intervalMs)));
        }
        return got;
      }),
    );
    // The last scrape of the last round starts just before the end of the last interval.
    const pacedWall = performance.now() - t0;
    const pacedResult = phase(
      true,
      paced.flat(),
      sum(cpu()) - sum(cpu0),
      simCpu() - sim0,
      Array.from({ length: opts.rounds }, () => pacedWall / opts.rounds),
      pacedWall,
    );

    cpu0 = cpu();
    sim0 = simCpu();
    t0 = performance.now();
    const burst = await Promise.all(
      exporters.map(async (e, i) => {
        const walls: number[] = [];
        const got: ScrapeResult[] = [];
        for (let r = 0; r < opts.rounds; r++) {
          const t = performance.now();
          got.push(...(await round(e, groups[i]!)));
          walls.push(performance.now() - t);
        }
        return { walls, got };
      }),
    );
    const burstResult = phase(
      false,
      burst.flatMap((b) => b.got),
      sum(cpu()) - sum(cpu0),
      simCpu() - sim0,
      burst.flatMap((b) => b.walls),
      performance.now() - t0,
    );
    return {
      paced: pacedResult,
      burst: burstResult,
      samplesPerScrape: median(all.map((x) => x.samples)),
      retried: sum(all.map((x) => x.packetsRetried)),
      gets: cfg.gets,
      walks: cfg.walks,
    };
  } finally {
    for (const e of exporters) e.proc.kill('SIGTERM');
  }
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const perPoll = (p: PhaseResult) => p.cpuMs / p.polls;
const rss = (p: PhaseResult) => ({
  median: round3(median(p.peakRssMb)),
  max: round3(Math.max(...p.peakRssMb)),
});

export async function runFleet(opts: FleetOptions): Promise<void> {
  const { line: exporterLine, version } = exporterVersion();
  if (opts.devices === 0 || opts.boxes === 0 || opts.rounds === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'pantau-fleet-'));
  const started = performance.now();
  const onSignal = () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    log(`starting ${opts.devices} simulated radios in ${opts.simulators} processes`);
    const sims = await startSimulators(opts.devices, opts.simulators, opts.recording);
    const groups = boxPorts(sims.ports, opts.boxes);

    log(`pantau: ${groups.length} site box daemons, interval ${opts.intervalS} s, ${opts.rounds} rounds`);
    const daemon = await daemonPhase(groups, opts, sims.pids, dir);
    log(`pantau: ${groups.length} collector-only boxes, ${opts.rounds} rounds back to back`);
    const collectorRun = await runBoxes('collector', groups, opts, sims.pids);
    checkPantau('collector', collectorRun.results, opts);
    const collector = summarize('pantau collector path only', collectorRun, false);
    log(
      `${exporterLine}: ${groups.length} processes, ${opts.rounds} rounds paced, then ${opts.rounds} back to back`,
    );
    const exp = await exporterPhases(groups, opts, sims.pids, dir);

    const ratio = perPoll(daemon) / perPoll(exp.paced);
    const exporterPackets = (exp.paced.requests ?? Number.NaN) / exp.paced.polls;
    const burstRatio = perPoll(collector) / perPoll(exp.burst);
    const cols = [daemon, exp.paced, collector, exp.burst];
    // The daemon runs the collector's code path; its request count is the collector's.
    const requestsPerPoll = (p: PhaseResult) =>
      p.requests !== null ? p.requests / p.polls : (collector.requests ?? Number.NaN) / collector.polls;
    const rows: string[][] = [
      ['', 'pantau daemon', exp.paced.label, 'pantau collector', exp.burst.label],
      ['', `paced ${opts.intervalS} s`, `paced ${opts.intervalS} s`, 'back to back', 'back to back'],
      ['device-polls measured', ...cols.map((p) => String(p.polls))],
      ['CPU ms per device-poll', ...cols.map((p) => f(perPoll(p), 3))],
      ['  pantau / snmp_exporter', f(ratio), '', f(burstRatio), ''],
      ['CPU total, all boxes (ms)', ...cols.map((p) => f(p.cpuMs, 0))],
      [
        'SNMP requests per device-poll',
        ...cols.map((p) => (p.requests === null ? 'as collector' : f(p.requests / p.polls))),
      ],
      ['CPU µs per SNMP request', ...cols.map((p) => f((perPoll(p) * 1000) / requestsPerPoll(p), 0))],
      ['peak RSS per box, median (MB)', ...cols.map((p) => f(median(p.peakRssMb), 1))],
      ['peak RSS per box, max (MB)', ...cols.map((p) => f(Math.max(...p.peakRssMb), 1))],
      [
        'wall per round, median (ms)',
        ...cols.map((p) => (p.paced ? '(interval)' : f(median(p.roundWallMs), 0))),
      ],
      [
        'wall per round, max (ms)',
        ...cols.map((p) => (p.paced ? '(interval)' : f(Math.max(...p.roundWallMs), 0))),
      ],
      ['simulator CPU ms per device-poll', ...cols.map((p) => f(p.simCpuMs / p.polls, 3))],
    ];
    out(
      `\nFleet: ${opts.devices} simulated airMAX radios over ${groups.length} site boxes (${groups[0]!.length} radios each), ${opts.rounds} measured rounds, at most ${opts.concurrency} polls in flight per box\n`,
    );
    for (const r of rows)
      out(
        `${r[0]!.padEnd(33)}${r
          .slice(1)
          .map((c) => c.padStart(21))
          .join('')}\n`,
      );
    out(
      [
        '',
        `pantau daemon: the real site box (startGateway: scheduler, health rules, MQTT publishing to a local aedes broker), one process per box, each radio polled every interval_s=${opts.intervalS}.`,
        `snmp_exporter paced: as Prometheus drives it, each radio scraped once per ${opts.intervalS} s at its own offset; one exporter process per box.`,
        'back to back: rounds without pause (pantau: collectSnmp + newSnmpMemory alone, as poll-round.ts); shows throughput, and CPU under saturation.',
        `snmp.yml (generated from the airmax profile): GET of ${exp.gets} scalars, a walk per column (${exp.walks}); ${exp.samplesPerScrape} samples per scrape (median), ${exp.retried} packets retried. snmp_exporter CPU and RSS from /proc/PID; pantau from process.cpuUsage()/resourceUsage() in each box.`,
        ...(exporterPackets > exp.walks + 1
          ? [
              `snmp_exporter sent ${f(exporterPackets)} packets per scrape for 1 GET and ${exp.walks} walks: a walk that finds nothing (an empty table, e.g. no stations in the recording) is followed by a GET of the walked OID. Figures depend on the recording (BENCH_FLEET_RECORDING).`,
            ]
          : []),
        `Recording: ${relative(ROOT, opts.recording)}. Measured after warm-up (profile detection, first counter samples); simulators run in their own processes and count for neither side.`,
        ...(process.env.BENCH_FLEET_PROFILE
          ? [
              `CPU profiles of the measured Pantau polls in ${process.env.BENCH_FLEET_PROFILE}: Pantau's figures include the profiler's cost.`,
            ]
          : []),
        `Pantau costs ${f(ratio)}× of snmp_exporter's CPU per device-poll (full daemon vs exporter, paced; ${f(burstRatio)}× collector path vs exporter back to back). Goal (< 1×): ${ratio < 1 ? 'met' : 'NOT met'}.`,
        '',
      ].join('\n'),
    );
    out(
      `${JSON.stringify({
        bench: 'fleet',
        devices: opts.devices,
        boxes: groups.length,
        rounds: opts.rounds,
        concurrency: opts.concurrency,
        interval_s: opts.intervalS,
        exporter_version: version.join('.'),
        recording: relative(ROOT, opts.recording),
        pantau_cpu_ms_per_poll: round3(perPoll(daemon)),
        exporter_cpu_ms_per_poll: round3(perPoll(exp.paced)),
        ratio: round3(ratio),
        pantau_rss_mb: rss(daemon),
        exporter_rss_mb: rss(exp.paced),
        back_to_back: {
          pantau_collector_cpu_ms_per_poll: round3(perPoll(collector)),
          exporter_cpu_ms_per_poll: round3(perPoll(exp.burst)),
          ratio: round3(burstRatio),
          pantau_collector_rss_mb: rss(collector),
          wall_ms_per_round: {
            pantau_collector: {
              median: round3(median(collector.roundWallMs)),
              max: round3(Math.max(...collector.roundWallMs)),
            },
            exporter: {
              median: round3(median(exp.burst.roundWallMs)),
              max: round3(Math.max(...exp.burst.roundWallMs)),
            },
          },
        },
        requests_per_poll: {
          pantau: collector.requests === null ? null : round3(collector.requests / collector.polls),
          exporter: round3(exporterPackets),
        },
        goal_met: ratio < 1,
        total_s: round3((performance.now() - started) / 1000),
      })}\n`,
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
