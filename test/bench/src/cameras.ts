// The camera benchmark: N simulated ONVIF cameras (default 16) watched by ONE real site box daemon
// (`node gateway/dist/cli.js run`), each probed every interval_s (default 60 s) with the default
// camera settings (4 s sample of the sub-stream, a thumbnail every 600 s, at most 2 ffmpeg at once).
// Streams come from Debian's GStreamer RTSP server (test/support/rtsp-server.py, one process); the
// ONVIF simulators run in processes of their own and the broker (aedes) in this orchestrator, so
// none of them is counted. After a warm-up of one interval, /proc is sampled every SAMPLE_MS for
// BENCH_CAMERA_MINUTES: the daemon's CPU (utime+stime) and its ffmpeg children's (cutime+cstime once
// reaped, utime+stime while alive), peak RSS of the daemon, of its live ffmpeg children and of both,
// and how many ffmpeg ran at once. The broker counts each camera's probes (telemetry with
// stream_up) and thumbnails. Asserts nothing on timing; fails loudly when the daemon died or a
// camera was never probed.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseTopic } from '@pantau/contract';
import { Aedes } from 'aedes';
import { freePort, sleep } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const PYTHON = '/usr/bin/python3';
const RTSP_SERVER = join(ROOT, 'test/support/rtsp-server.py');
const SAMPLE_MS = 150;
const FFMPEG_LIMIT = 2; // the gateway's default concurrency.ffmpeg, which the site.yaml leaves alone

export interface CameraOptions {
  cameras: number;
  minutes: number;
  intervalS: number;
}

export function cameraOptionsFromEnv(): CameraOptions {
  const n = (k: string, d: number) => {
    const v = Number(process.env[k] ?? d);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${k} must be a number ≥ 0, got ${process.env[k]}`);
    return v;
  };
  const cameras = n('BENCH_CAMERAS', 16);
  if (!Number.isInteger(cameras)) throw new Error(`BENCH_CAMERAS must be a whole number`);
  const intervalS = n('BENCH_CAMERA_INTERVAL_S', 60);
  if (!Number.isInteger(intervalS) || intervalS < 5)
    throw new Error('BENCH_CAMERA_INTERVAL_S must be a whole number ≥ 5');
  return { cameras, minutes: n('BENCH_CAMERA_MINUTES', 10), intervalS };
}

type Role = 'sub' | 'main' | 'frozen' | 'black';
const ROLE_TEXT: Record<Role, string> = {
  sub: 'sub-stream /sub 320x180',
  main: 'main stream /moving 640x360',
  frozen: 'frozen picture /frozen 640x360',
  black: 'black picture /black 640x360',
};

/** A realistic site: most cameras watched on their sub-stream, two on the main stream, one frozen, one black. */
function roles(n: number): Role[] {
  const special: Role[] = ['main', 'main', 'frozen', 'black'];
  const k = Math.min(special.length, Math.floor(n / 2));
  return Array.from({ length: n }, (_, i) => (i < n - k ? 'sub' : special[special.length - (n - i)]!));
}

const children = new Set<ChildProcess>();
const out = (s: string) => process.stdout.write(s);
const log = (s: string) => process.stderr.write(`cameras: ${s}\n`);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

function requirePeers(): void {
  const apt =
    'apt-get install -y --no-install-recommends ffmpeg gstreamer1.0-rtsp python3-gi gir1.2-gst-rtsp-server-1.0 ' +
    'gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly';
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing (Debian's python3 with python3-gi): ${apt}`);
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`ffmpeg is missing: ${apt}`);
  }
}

interface RtspServer {
  proc: ChildProcess;
  /** Why it ended, if it did: a benchmark whose streams vanished measured nothing worth reporting. */
  exited: () => string | null;
}

/** The GStreamer RTSP server (test/support/rtsp-server.py), once it printed READY <port>. */
function startRtspServer(port: number): Promise<RtspServer> {
  const proc = track(
    spawn(PYTHON, [RTSP_SERVER, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let text = '';
  let exit: string | null = null;
  const tail = () => text.split('\n').slice(-20).join('\n');
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`rtsp-server.py did not get ready in 10 s:\n${text}`));
    }, 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (exit === null && text.includes(`READY ${port}`)) {
        clearTimeout(timer);
        res({ proc, exited: () => exit });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      exit = `rtsp-server.py (pid ${proc.pid}) exited with code ${code}, signal ${signal}:\n${tail()}`;
      rej(new Error(exit));
    });
  });
}

/** `count` ONVIF simulators in one process of their own (collectors/dist/onvif/simulator/cli.js). */
async function startSimulators(
  count: number,
  rtsp: string,
  rtspSub: string,
  password: string,
  snapshot: string,
): Promise<{ pid: number; ports: number[] }> {
  const p = track(
    spawn(
      process.execPath,
      [
        join(ROOT, 'collectors/dist/onvif/simulator/cli.js'),
        '--count',
        String(count),
        '--password',
        password,
        '--rtsp',
        rtsp,
        '--rtsp-sub',
        rtspSub,
        '--snapshot',
        snapshot,
        '--name',
        'Bench camera',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const ports: number[] = [];
  for await (const line of createInterface({ input: p.stdout! })) {
    if (line.trim() === '') continue;
    const m = JSON.parse(line) as { port?: number; ready?: number };
    if (typeof m.port === 'number') ports.push(m.port);
    if (m.ready) break;
  }
  if (ports.length !== count) throw new Error(`ONVIF simulator started ${ports.length} of ${count} cameras`);
  return { pid: p.pid!, ports };
}

interface CameraTally {
  /** Broker receive times (ms, performance.now()) of telemetry carrying stream_up, and how many said up. */
  probes: number[];
  up: number;
  /** Thumbnails by their payload ts (a retained re-publish after a reconnect is not a new one). */
  thumbnails: Map<number, { at: number; bytes: number; width?: number }>;
  status?: string;
  frozen?: boolean;
  black?: boolean;
  events: string[];
}

/** A broker for the site box: plain aedes, no auth, counting what each camera reports. */
async function startBroker(site: string): Promise<{
  port: number;
  cams: Map<string, CameraTally>;
  close(): Promise<void>;
}> {
  const aedes = await Aedes.createBroker();
  const cams = new Map<string, CameraTally>();
  const cam = (id: string) => {
    let c = cams.get(id);
    if (!c) {
      c = { probes: [], up: 0, thumbnails: new Map(), events: [] };
      cams.set(id, c);
    }
    return c;
  };
  aedes.on('publish', (packet, client) => {
    if (!client || !Buffer.isBuffer(packet.payload)) return;
    const t = parseTopic(packet.topic);
    if (!t || t.site !== site) return;
    const at = performance.now();
    const body = () => JSON.parse(packet.payload.toString()) as Record<string, unknown>;
    try {
      tally(t, at, body);
    } catch (e) {
      log(`unreadable ${packet.topic}: ${(e as Error).message}`);
    }
  });
  const tally = (
    t: NonNullable<ReturnType<typeof parseTopic>>,
    at: number,
    body: () => Record<string, unknown>,
  ) => {
    if (t.kind === 'device-telemetry') {
      const readings = (body().readings ?? []) as Array<{ values?: Record<string, number> }>;
      for (const r of readings)
        if (r.values?.stream_up !== undefined) {
          const c = cam(t.device);
          c.probes.push(at);
          if (r.values.stream_up === 1) c.up++;
        }
    } else if (t.kind === 'device-thumbnail') {
      const b = body() as { ts: number; data: string; width?: number };
      cam(t.device).thumbnails.set(b.ts, {
        at,
        bytes: Buffer.from(b.data, 'base64').length,
        ...(b.width ? { width: b.width } : {}),
      });
    } else if (t.kind === 'device-state') {
      const b = body() as { status: string; camera?: { frozen: boolean; black: boolean } };
      const c = cam(t.device);
      c.status = b.status;
      c.frozen = b.camera?.frozen;
      c.black = b.camera?.black;
    } else if (t.kind === 'events') {
      const b = body() as { type: string; device?: string };
      if (b.device) cam(b.device).events.push(b.type);
    }
  };
  const server: Server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('broker has no port');
  return {
    port: addr.port,
    cams,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- /proc ----

let clkTck = 0;
const ticksMs = (t: number) => {
  if (clkTck === 0) clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (t * 1000) / clkTck;
};

interface Stat {
  comm: string;
  state: string;
  ppid: number;
  /** utime+stime, and cutime+cstime (reaped children), in clock ticks. */
  self: number;
  reaped: number;
}

function readStat(pid: number): Stat | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = s.lastIndexOf(')');
  const f = s.slice(close + 2).split(' ');
  return {
    comm: s.slice(s.indexOf('(') + 1, close),
    state: f[0]!,
    ppid: Number(f[1]),
    self: Number(f[11]) + Number(f[12]),
    reaped: Number(f[13]) + Number(f[14]),
  };
}

/** VmRSS and VmHWM in MB (0 for a process gone or a zombie). */
function readMem(pid: number): { rss: number; hwm: number } {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rss: 0, hwm: 0 };
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Children of pid: from /proc/PID/task/*\/children where the kernel has it, else a scan of /proc. */
function childPids(pid: number): number[] {
  try {
    const pids: number[] = [];
    for (const t of readdirSync(`/proc/${pid}/task`))
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
        if (c) pids.push(Number(c));
    return pids;
  } catch {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((p) => readStat(p)?.ppid === pid);
  }
}

interface Snapshot {
  /** The daemon's own CPU, its reaped children's, and its live (or zombie) children's, in ms. */
  selfMs: number;
  reapedMs: number;
  liveMs: number;
  ffmpeg: Array<{ pid: number; running: boolean }>;
}

/** A consistent look at the daemon and its children: retried if a child was reaped while reading. */
function snapshot(pid: number): Snapshot | null {
  for (let attempt = 0; attempt < 10; attempt++) {
    const a = readStat(pid);
    if (!a) return null;
    const kids = childPids(pid)
      .map((p) => ({ pid: p, st: readStat(p) }))
      .filter((k) => k.st?.ppid === pid);
    const b = readStat(pid);
    if (!b) return null;
    if (a.reaped !== b.reaped) continue;
    return {
      selfMs: ticksMs(b.self),
      reapedMs: ticksMs(b.reaped),
      liveMs: ticksMs(sum(kids.map((k) => k.st!.self))),
      ffmpeg: kids
        .filter((k) => k.st!.comm === 'ffmpeg')
        .map((k) => ({ pid: k.pid, running: k.st!.state !== 'Z' })),
    };
  }
  throw new Error(`could not read a consistent /proc snapshot of ${pid}`);
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = sum(f.slice(0, 8));
  return { busy: total - f[3]! - f[4]!, total };
}

const procCpuMs = (pid: number) => {
  const s = readStat(pid);
  return s ? ticksMs(s.self + s.reaped) : 0;
};

interface Sampler {
  samples: number;
  /** Samples by the number of ffmpeg running at that moment. */
  concurrency: number[];
  maxFfmpeg: number;
  maxFfmpegRss: number;
  maxOneFfmpegHwm: number;
  maxDaemonRss: number;
  maxTotalRss: number;
  ffmpegPids: Set<number>;
  maxGapMs: number;
}

const newSampler = (): Sampler => ({
  samples: 0,
  concurrency: [],
  maxFfmpeg: 0,
  maxFfmpegRss: 0,
  maxOneFfmpegHwm: 0,
  maxDaemonRss: 0,
  maxTotalRss: 0,
  ffmpegPids: new Set(),
  maxGapMs: 0,
});

function sample(s: Sampler, pid: number, gapMs: number): void {
  const snap = snapshot(pid);
  if (!snap) return;
  const running = snap.ffmpeg.filter((f) => f.running);
  let ffRss = 0;
  for (const f of running) {
    const m = readMem(f.pid);
    ffRss += m.rss;
    s.maxOneFfmpegHwm = Math.max(s.maxOneFfmpegHwm, m.hwm);
    s.ffmpegPids.add(f.pid);
  }
  const daemon = readMem(pid).rss;
  s.samples++;
  s.concurrency[running.length] = (s.concurrency[running.length] ?? 0) + 1;
  s.maxFfmpeg = Math.max(s.maxFfmpeg, running.length);
  s.maxFfmpegRss = Math.max(s.maxFfmpegRss, ffRss);
  s.maxDaemonRss = Math.max(s.maxDaemonRss, daemon);
  s.maxTotalRss = Math.max(s.maxTotalRss, daemon + ffRss);
  s.maxGapMs = Math.max(s.maxGapMs, gapMs);
}

// ---- the run ----

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export async function runCameras(opts: CameraOptions): Promise<void> {
  if (opts.cameras === 0 || opts.minutes === 0) return;
  requirePeers();
  const dir = mkdtempSync(join(tmpdir(), 'pantau-cameras-'));
  const site = 'bench-cameras';
  const started = performance.now();
  const onSignal = () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  let gateway: ChildProcess | undefined;
  try {
    // Real cameras serve a snapshot at main-stream size: too wide for a 320 px thumbnail, so the site
    // box grabs its thumbnails from the stream with ffmpeg, and those count too.
    const snapshotFile = join(dir, 'snapshot.jpg');
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=1280x720:rate=1',
      '-frames:v',
      '1',
      '-q:v',
      '3',
      snapshotFile,
    ]);

    const rtspPort = await freePort();
    log(`GStreamer RTSP server on port ${rtspPort}`);
    const rtsp = await startRtspServer(rtspPort);
    const url = (p: string) => `rtsp://127.0.0.1:${rtspPort}${p}`;

    const role = roles(opts.cameras);
    const count = (r: Role) => role.filter((x) => x === r).length;
    const password = 'kamera-bench';
    log(`${opts.cameras} ONVIF simulators in their own processes`);
    const moving = await startSimulators(
      count('sub') + count('main'),
      url('/moving'),
      url('/sub'),
      password,
      snapshotFile,
    );
    const frozen = count('frozen')
      ? await startSimulators(1, url('/frozen'), url('/frozen'), password, snapshotFile)
      : null;
    const black = count('black')
      ? await startSimulators(1, url('/black'), url('/black'), password, snapshotFile)
      : null;
    const simPids = [moving.pid, frozen?.pid, black?.pid].filter((p) => p !== undefined);
    const movingPorts = [...moving.ports];
    const camPorts = role.map((r) =>
      r === 'frozen' ? frozen!.ports[0]! : r === 'black' ? black!.ports[0]! : movingPorts.shift()!,
    );

    broker = await startBroker(site);
    writeFileSync(join(dir, 'camera.pw'), `${password}\n`);
    writeFileSync(join(dir, 'gateway.pw'), 'bench-only\n');
    const ids = role.map((_, i) => `cam-${String(i + 1).padStart(2, '0')}`);
    const devices = role
      .map(
        (r, i) => `  - id: ${ids[i]}
    name: "Bench camera ${i + 1} (${r})"
    kind: camera
    address: 127.0.0.1
    interval_s: ${opts.intervalS}
    onvif: { port: ${camPorts[i]}, username: admin, password_file: camera.pw }
${r === 'main' ? '    camera: { stream: main }\n' : ''}`,
      )
      .join('');
    const siteYaml = join(dir, 'site.yaml');
    writeFileSync(
      siteYaml,
      `# Written by the Pantau camera benchmark: default camera settings (sample_s 4, thumbnails every
# 600 s, concurrency.ffmpeg 2); cameras without a camera block watch their ONVIF sub-stream.
site: { id: ${site}, name: "Camera benchmark" }
mqtt:
  urls: ["mqtt://127.0.0.1:${broker.port}"]
  username: ${site}
  password_file: gateway.pw
state_dir: ${join(dir, 'state')}
log_level: warn
devices:
${devices}`,
    );

    log(`one site box daemon, ${opts.cameras} cameras every ${opts.intervalS} s`);
    gateway = track(
      spawn(process.execPath, [join(ROOT, 'gateway/dist/cli.js'), 'run', '--config', siteYaml], {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: dir,
      }),
    );
    const gwPid = gateway.pid!;
    let gatewayExit: string | null = null;
    gateway.once('exit', (code, signal) => {
      gatewayExit = `code ${code}, signal ${signal}`;
    });
    // Warnings and errors by message: any problem in the camera path shows up here.
    const warnings = new Map<string, number>();
    const otherOutput: string[] = [];
    for (const stream of [gateway.stdout!, gateway.stderr!])
      createInterface({ input: stream }).on('line', (line) => {
        if (line.trim() === '') return;
        try {
          const m = JSON.parse(line) as { level?: number; msg?: string; err?: string; device?: string };
          if ((m.level ?? 0) >= 40) {
            const key = `${m.level === 40 ? 'warn' : 'error'}: ${m.msg ?? ''}${m.err ? ` (${m.err.replace(/cam-\d+/g, 'cam-NN')})` : ''}`;
            warnings.set(key, (warnings.get(key) ?? 0) + 1);
          }
        } catch {
          if (otherOutput.length < 20) otherOutput.push(line);
        }
      });

    // Sample /proc from the start (whole-run peaks), and separately over the measured window.
    const whole = newSampler();
    let win: Sampler | null = null;
    let sampling = true;
    const sampler = (async () => {
      let last = performance.now();
      while (sampling && gatewayExit === null) {
        const now = performance.now();
        sample(whole, gwPid, now - last);
        if (win) sample(win, gwPid, now - last);
        last = now;
        await sleep(SAMPLE_MS);
      }
    })();
    const alive = () => {
      const rtspExit = rtsp.exited();
      if (rtspExit !== null) throw new Error(`the RTSP server died: ${rtspExit}`);
      if (gatewayExit !== null)
        throw new Error(
          `the site box daemon died (${gatewayExit}): ${[...warnings.keys(), ...otherOutput].join('\n')}`,
        );
    };

    // Warm-up: one interval, and every camera probed at least once.
    const t0w = performance.now();
    const warmLimit = (3 * opts.intervalS + 60) * 1000;
    while (
      performance.now() - t0w < opts.intervalS * 1000 ||
      ids.some((id) => (broker!.cams.get(id)?.probes.length ?? 0) === 0)
    ) {
      alive();
      if (performance.now() - t0w > warmLimit) {
        const never = ids.filter((id) => (broker!.cams.get(id)?.probes.length ?? 0) === 0);
        throw new Error(
          `after ${f(warmLimit / 1000, 0)} s, never probed: ${never.join(', ')}; daemon said: ${[...warnings.keys()].join('; ')}`,
        );
      }
      await sleep(200);
    }

    const windowMs = opts.minutes * 60_000;
    log(`warm after ${f((performance.now() - t0w) / 1000)} s; measuring for ${opts.minutes} min`);
    const s0 = snapshot(gwPid)!;
    const m0 = machineTicks();
    const rtsp0 = procCpuMs(rtsp.proc.pid!);
    const sims0 = sum(simPids.map(procCpuMs));
    const orch0 = process.cpuUsage();
    const t0 = performance.now();
    win = newSampler();
    const progressEvery = Math.max(60_000, windowMs / 10);
    let nextProgress = t0 + progressEvery;
    while (performance.now() - t0 < windowMs) {
      alive();
      await sleep(Math.min(500, windowMs - (performance.now() - t0)));
      if (performance.now() >= nextProgress) {
        nextProgress += progressEvery;
        const probes = sum(ids.map((id) => broker!.cams.get(id)?.probes.filter((t) => t >= t0).length ?? 0));
        log(
          `${f((performance.now() - t0) / 60_000)} min: ${probes} probes, peak ${win.maxFfmpeg} ffmpeg at once`,
        );
      }
    }
    const s1 = snapshot(gwPid)!;
    const t1 = performance.now();
    const m1 = machineTicks();
    const rtspMs = procCpuMs(rtsp.proc.pid!) - rtsp0;
    const simsMs = sum(simPids.map(procCpuMs)) - sims0;
    const orchCpu = process.cpuUsage(orch0);
    const orchMs = (orchCpu.user + orchCpu.system) / 1000;
    const daemonHwm = readMem(gwPid).hwm;
    alive();
    const measured = win;
    win = null;
    sampling = false;
    await sampler;

    const wallMs = t1 - t0;
    const daemonMs = s1.selfMs - s0.selfMs;
    // ffmpeg: reaped children's times, plus those alive at the end, minus those alive at the start.
    const ffmpegMs = s1.reapedMs + s1.liveMs - (s0.reapedMs + s0.liveMs);
    const totalMs = daemonMs + ffmpegMs;
    const pct = (ms: number) => (ms / wallMs) * 100;
    const machinePct = ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100;

    const expected = wallMs / 1000 / opts.intervalS;
    const perCam = ids.map((id, i) => {
      const c = broker!.cams.get(id);
      const inWin = (c?.probes ?? []).filter((t) => t >= t0 && t <= t1).length;
      const thumbs = [...(c?.thumbnails.values() ?? [])];
      return {
        id,
        role: role[i]!,
        probes: inWin,
        probesTotal: c?.probes.length ?? 0,
        up: c?.up ?? 0,
        thumbnails: thumbs.filter((t) => t.at >= t0 && t.at <= t1).length,
        thumbnailsTotal: thumbs.length,
        thumbBytes: thumbs.map((t) => t.bytes),
        thumbWidth: thumbs.find((t) => t.width)?.width,
        status: c?.status ?? '?',
        frozen: c?.frozen,
        black: c?.black,
        events: c?.events ?? [],
      };
    });
    const probes = sum(perCam.map((c) => c.probes));
    // The scheduler arms the next probe when one ends: the period is interval_s plus the probe's own time.
    const gaps = ids.flatMap((id) => {
      const ts = broker!.cams.get(id)?.probes ?? [];
      return ts.slice(1).map((t, i) => (t - ts[i]!) / 1000);
    });
    const thumbsWin = sum(perCam.map((c) => c.thumbnails));
    const thumbsTotal = sum(perCam.map((c) => c.thumbnailsTotal));
    const short = perCam.filter((c) => c.probes < Math.floor(expected * 0.8));
    const down = perCam.filter((c) => c.up < c.probesTotal);
    const spawned = measured.ffmpegPids.size;

    const sampleShare = (k: number) => ((measured.concurrency[k] ?? 0) / measured.samples) * 100;
    const conc = Array.from(
      { length: measured.maxFfmpeg + 1 },
      (_, k) => `${k}: ${f(sampleShare(k))} %`,
    ).join(', ');
    const rows: Array<[string, string]> = [
      ['CPU share of one core, daemon + ffmpeg', `${f(pct(totalMs), 2)} %`],
      ['  node daemon', `${f(pct(daemonMs), 2)} %`],
      ['  ffmpeg (probes and thumbnails)', `${f(pct(ffmpegMs), 2)} %`],
      ['CPU seconds, daemon / ffmpeg', `${f(daemonMs / 1000, 2)} / ${f(ffmpegMs / 1000, 2)}`],
      ['CPU ms per probe, daemon / ffmpeg', `${f(daemonMs / probes, 0)} / ${f(ffmpegMs / probes, 0)}`],
      ['peak RSS, daemon (VmHWM, whole run)', `${f(daemonHwm)} MB`],
      ['peak RSS, live ffmpeg together', `${f(measured.maxFfmpegRss)} MB`],
      ['peak RSS, one ffmpeg (VmHWM)', `${f(measured.maxOneFfmpegHwm)} MB`],
      ['peak RSS, daemon + ffmpeg (sampled)', `${f(measured.maxTotalRss)} MB`],
      [`peak concurrent ffmpeg (limit ${FFMPEG_LIMIT})`, String(measured.maxFfmpeg)],
      ['samples by ffmpeg running', conc],
      ['ffmpeg processes seen', `${spawned} (${f(spawned / (wallMs / 60_000))} a minute)`],
      [
        'probes (stream_up readings)',
        `${probes}, expected ≈ ${f(expected * opts.cameras, 0)} (${f(expected)} per camera)`,
      ],
      [
        '  per camera min / median / max',
        `${Math.min(...perCam.map((c) => c.probes))} / ${median(perCam.map((c) => c.probes))} / ${Math.max(...perCam.map((c) => c.probes))}`,
      ],
      [
        'time between probes of a camera, median / max',
        `${f(median(gaps))} / ${f(Math.max(...gaps))} s (interval_s ${opts.intervalS})`,
      ],
      ['thumbnails at the broker, window / whole run', `${thumbsWin} / ${thumbsTotal}`],
      ['not counted: RTSP server CPU', `${f(pct(rtspMs), 2)} % of one core`],
      ['not counted: ONVIF simulators CPU', `${f(pct(simsMs), 2)} % of one core`],
      ['not counted: orchestrator (broker, sampler)', `${f(pct(orchMs), 2)} % of one core`],
      ['machine busy, all processes', `${f(machinePct)} % of ${cpus().length} cores`],
      ['/proc samples, max gap', `${measured.samples}, ${f(measured.maxGapMs, 0)} ms`],
    ];
    const mix = (['sub', 'main', 'frozen', 'black'] as Role[])
      .filter((r) => count(r) > 0)
      .map((r) => `${count(r)} ${ROLE_TEXT[r]}`)
      .join(', ');
    out(
      `\nCameras: ${opts.cameras} simulated ONVIF cameras (${mix}) watched by one site box daemon, each probed every ${opts.intervalS} s; measured ${f(wallMs / 1000, 0)} s after a ${f((t0 - t0w) / 1000, 0)} s warm-up\n`,
    );
    for (const [k, v] of rows) out(`${k.padEnd(46)}${v}\n`);
    out(`\n${'camera'.padEnd(8)}${'watching'.padEnd(32)}probes  up/all  thumbs  thumb    status\n`);
    for (const c of perCam)
      out(
        `${c.id.padEnd(8)}${ROLE_TEXT[c.role as Role].padEnd(32)}${String(c.probes).padStart(6)}  ${`${c.up}/${c.probesTotal}`.padStart(6)}  ${`${c.thumbnails}/${c.thumbnailsTotal}`.padStart(6)}  ${(c.thumbWidth ? `${c.thumbWidth}px ${f(median(c.thumbBytes) / 1000)}kB` : '-').padEnd(8)} ${c.status}${c.frozen ? ' frozen' : ''}${c.black ? ' black' : ''}\n`,
      );
    out(
      [
        '',
        'probes: in the measured window; up/all: probes that found the stream up, over the whole run; thumbs: window/whole run.',
        'CPU from /proc/PID/stat of the daemon: utime+stime, and its ffmpeg children (cutime+cstime once reaped, utime+stime while alive),',
        `over the measured window; RSS from /proc/PID/status, sampled every ${SAMPLE_MS} ms. The snapshot each simulated camera serves is`,
        '1280x720 (as real cameras serve main-stream size), too wide for a thumbnail, so thumbnails are grabbed from the stream by ffmpeg.',
        ...(short.length
          ? [`PROBED LESS THAN 80 % OF EXPECTED: ${short.map((c) => `${c.id} (${c.probes})`).join(', ')}`]
          : []),
        ...(down.length
          ? [
              `STREAM DOWN AT SOME PROBE: ${down.map((c) => `${c.id} (${c.up}/${c.probesTotal} up)`).join(', ')}`,
            ]
          : []),
        ...(warnings.size
          ? ['site box warnings and errors over the run:', ...[...warnings].map(([k, n]) => `  ${n}× ${k}`)]
          : ['site box: no warnings or errors over the run.']),
        '',
      ].join('\n'),
    );
    out(
      `${JSON.stringify({
        bench: 'cameras',
        cameras: opts.cameras,
        mix: Object.fromEntries((['sub', 'main', 'frozen', 'black'] as Role[]).map((r) => [r, count(r)])),
        interval_s: opts.intervalS,
        measured_s: r3(wallMs / 1000),
        cpu_pct_of_one_core: {
          total: r3(pct(totalMs)),
          daemon: r3(pct(daemonMs)),
          ffmpeg: r3(pct(ffmpegMs)),
        },
        cpu_s: { daemon: r3(daemonMs / 1000), ffmpeg: r3(ffmpegMs / 1000) },
        peak_rss_mb: {
          daemon: r3(daemonHwm),
          ffmpeg_together: r3(measured.maxFfmpegRss),
          one_ffmpeg: r3(measured.maxOneFfmpegHwm),
          total: r3(measured.maxTotalRss),
        },
        peak_concurrent_ffmpeg: measured.maxFfmpeg,
        peak_concurrent_ffmpeg_whole_run: whole.maxFfmpeg,
        ffmpeg_seen: spawned,
        probes,
        probes_expected: r3(expected * opts.cameras),
        probe_period_s: { median: r3(median(gaps)), max: r3(Math.max(...gaps)) },
        probes_per_camera: Object.fromEntries(perCam.map((c) => [c.id, c.probes])),
        stream_up: { up: sum(perCam.map((c) => c.up)), of: sum(perCam.map((c) => c.probesTotal)) },
        thumbnails: { window: thumbsWin, whole_run: thumbsTotal },
        not_counted_cpu_pct: {
          rtsp_server: r3(pct(rtspMs)),
          simulators: r3(pct(simsMs)),
          orchestrator: r3(pct(orchMs)),
        },
        machine_busy_pct: r3(machinePct),
        cores: cpus().length,
        warnings: Object.fromEntries(warnings),
        total_s: r3((performance.now() - started) / 1000),
      })}\n`,
    );
    const never = perCam.filter((c) => c.probes === 0);
    if (never.length)
      throw new Error(`never probed in the measured window: ${never.map((c) => c.id).join(', ')}`);
    // Every simulated stream is up (frozen and black ones too): probes of a dead stream cost little
    // and would make the figures look better than they are.
    if (down.length)
      throw new Error(
        `the stream was down at ${sum(down.map((c) => c.probesTotal - c.up))} of ${sum(perCam.map((c) => c.probesTotal))} probes: the figures do not measure live video`,
      );
  } finally {
    process.removeListener('SIGINT', onSignal);
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      const exited = new Promise((r) => gateway!.once('exit', r));
      gateway.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    for (const c of children) c.kill('SIGTERM');
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
