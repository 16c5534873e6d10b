// One RTSP stream probe = one short ffmpeg run: connect, read the stream description, decode a
// few seconds of the first video track through freezedetect and blackdetect, throw the frames
// away. Everything the probe reports comes from that one process's log and progress output.

import { CollectorError } from '../common/errors.js';
import { checkRtspUrl, findFfmpeg, type RunResult, redactUrl, runFfmpeg } from './ffmpeg.js';
import { abortError } from './limiter.js';

export type ProbeErrorKind = 'unreachable' | 'auth' | 'not_found' | 'no_video' | 'timeout' | 'malformed';

export interface StreamProbe {
  /** Streaming: a video track was described and decoded frames arrived until the sample's end. */
  up: boolean;
  error?: { kind: ProbeErrorKind; message: string };
  /** As the stream describes itself (fps from the SDP/stream headers; bitrate measured over the sample). */
  video?: {
    codec: string;
    width: number;
    height: number;
    fps: number | null;
    bitrate_bps?: number;
    profile?: string;
  };
  audio?: { codec: string };
  frames: {
    /** Frames decoded within the sample. */
    count: number;
    /** At least two frames and their timestamps moved on through the whole sample. */
    advancing: boolean;
    /** Stream time covered by the sample, seconds. */
    duration_s: number;
    /** Measured frame rate: count / duration_s. */
    fps?: number;
  };
  /** The picture did not change (freezedetect) for at least `freezeMinS`. */
  frozen: {
    detected: boolean;
    /** Seconds into the sample when the (first) freeze began. */
    since_s?: number;
    /** Frozen seconds within the sample. */
    duration_s?: number;
    /** Still frozen when the sample ended. */
    ongoing?: boolean;
  };
  /** The picture was black (blackdetect) for at least `blackMinS`. */
  black: {
    detected: boolean;
    /** Black seconds within the sample. */
    duration_s?: number;
    /** Black share of the sample, 0..1. */
    ratio?: number;
  };
  /** ffmpeg's run time, spawn to exit. */
  elapsed_ms: number;
  /** Time spent waiting for a limiter slot before ffmpeg started. */
  queued_ms: number;
}

export interface ProbeOptions {
  /** Seconds of video to decode (1..30). Default 4. */
  sampleS?: number;
  /** Hard limit on ffmpeg's life (connect + sample); killed with SIGKILL past it. Default sampleS + 8 s. */
  timeoutMs?: number;
  /** RTP over the RTSP TCP connection (default; passes NAT/firewalls, no UDP loss) or over UDP. */
  transport?: 'tcp' | 'udp';
  /** Path to ffmpeg; default the first `ffmpeg` on PATH. */
  ffmpeg?: string;
  /** Minimum unchanged time that counts as frozen, seconds. Default 2 (must be below sampleS). */
  freezeMinS?: number;
  /** freezedetect noise tolerance, dB. Default -60 (ffmpeg's default). */
  freezeNoiseDb?: number;
  /** Minimum black time that counts as black, seconds. Default 1. */
  blackMinS?: number;
  /** Luma at or below this share of the range counts as a black pixel. Default 0.10. */
  blackPixelTh?: number;
  signal?: AbortSignal;
}

/** The fixed argument list for one probe (exported for the README and the CPU measurement). */
export function probeArgs(
  url: string,
  o: {
    sampleS: number;
    timeoutMs: number;
    transport: 'tcp' | 'udp';
    freezeMinS: number;
    freezeNoiseDb: number;
    blackMinS: number;
    blackPixelTh: number;
  },
): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    // verbose: adds the per-stream byte and frame totals at exit (for bitrate_bps)
    '-loglevel',
    'verbose',
    '-nostats',
    '-progress',
    'pipe:1',
    '-rtsp_transport',
    o.transport,
    // ffmpeg's own socket I/O timeout (µs): a backstop that ends ffmpeg even if we are gone.
    '-timeout',
    String((o.timeoutMs + 1000) * 1000),
    '-threads',
    '1',
    '-i',
    url,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-t',
    String(o.sampleS),
    '-vf',
    `freezedetect=n=${o.freezeNoiseDb}dB:d=${o.freezeMinS},blackdetect=d=${o.blackMinS}:pix_th=${o.blackPixelTh}`,
    '-f',
    'null',
    '-',
  ];
}

interface StreamInfo {
  video?: { codec: string; width: number; height: number; fps: number | null; profile?: string };
  audio?: { codec: string };
}

/** Reads ffmpeg's log, line by line: the input's streams, freeze and black events, byte totals. */
export class FfmpegLogParser {
  readonly info: StreamInfo = {};
  inInput = false;
  sawInput = false;
  readonly freezes: Array<{ start: number; end?: number; duration?: number }> = [];
  readonly blacks: Array<{ start: number; end: number; duration: number }> = [];
  videoBytes?: number;
  videoFramesDecoded?: number;

  line(l: string): void {
    if (/^Input #0, /.test(l)) {
      this.inInput = true;
      this.sawInput = true;
      return;
    }
    if (/^(Output #|Stream mapping:)/.test(l)) this.inInput = false;
    if (this.inInput) {
      const s = parseStreamLine(l);
      if (s?.type === 'video' && !this.info.video) this.info.video = s.video;
      if (s?.type === 'audio' && !this.info.audio) this.info.audio = s.audio;
    }
    const fz = /lavfi\.freezedetect\.freeze_(start|duration|end): (-?[\d.]+)/.exec(l);
    if (fz) {
      const v = Number(fz[2]);
      if (fz[1] === 'start') this.freezes.push({ start: v });
      else {
        const last = this.freezes.at(-1);
        if (last && fz[1] === 'end') last.end = v;
        if (last && fz[1] === 'duration') last.duration = v;
      }
      return;
    }
    const bk = /black_start:(-?[\d.]+) black_end:(-?[\d.]+) black_duration:([\d.]+)/.exec(l);
    if (bk) {
      this.blacks.push({ start: Number(bk[1]), end: Number(bk[2]), duration: Number(bk[3]) });
      return;
    }
    const totals =
      /Input stream #0:\d+ \(video\): (\d+) packets read \((\d+) bytes\); (\d+) frames decoded/.exec(l);
    if (totals && this.videoBytes === undefined) {
      this.videoBytes = Number(totals[2]);
      this.videoFramesDecoded = Number(totals[3]);
    }
  }
}

type ParsedStream =
  | { type: 'video'; video: NonNullable<StreamInfo['video']> }
  | { type: 'audio'; audio: { codec: string } };

/** `Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(...), 640x360 [SAR 1:1 DAR 16:9], 15 fps, ...` */
export function parseStreamLine(l: string): ParsedStream | undefined {
  const m = /^\s*Stream #\d+:\d+(?:\[[^\]]*\])?(?:\([^)]*\))?: (Video|Audio): ([A-Za-z0-9_]+)(.*)$/.exec(l);
  if (!m) return undefined;
  const codec = m[2]!;
  const rest = m[3] ?? '';
  if (m[1] === 'Audio') return { type: 'audio', audio: { codec } };
  const profile = /^ \(([^)]+)\)/.exec(rest)?.[1];
  // The first WxH that is not inside brackets (SAR/DAR) or parentheses (coded size).
  const size = /(?:^|[\s,])(\d{2,5})x(\d{2,5})(?=[\s,]|$)/.exec(rest);
  const fps = /([\d.]+)(k?) fps/.exec(rest) ?? /([\d.]+)(k?) tbr/.exec(rest);
  const video: NonNullable<StreamInfo['video']> = {
    codec,
    width: size ? Number(size[1]) : 0,
    height: size ? Number(size[2]) : 0,
    fps: fps ? Number(fps[1]) * (fps[2] === 'k' ? 1000 : 1) : null,
  };
  if (profile && !/ \/ 0x/.test(profile)) video.profile = profile;
  return { type: 'video', video };
}

/** Last `frame=` and `out_time_us=` of ffmpeg's `-progress` output. */
export function parseProgress(text: string): { frames: number; outTimeS: number; ended: boolean } {
  let frames = 0;
  let outTimeUs = 0;
  for (const l of text.split('\n')) {
    const f = /^frame=(\d+)/.exec(l);
    if (f) frames = Number(f[1]);
    const t = /^out_time_us=(\d+)/.exec(l);
    if (t) outTimeUs = Number(t[1]);
  }
  return { frames, outTimeS: outTimeUs / 1e6, ended: /^progress=end/m.test(text) };
}

/** Maps ffmpeg's error lines to a probe error kind, with the line that said so. */
export function classifyFfmpegError(lines: string[]): { kind: ProbeErrorKind; message: string } {
  const rules: Array<[RegExp, ProbeErrorKind]> = [
    [/\b401 Unauthorized|authorization failed/, 'auth'],
    [/\b403 Forbidden|access denied/, 'auth'],
    [/\b404 Not Found/, 'not_found'],
    [/matches no streams|does not contain any stream|no video stream/i, 'no_video'],
    [
      /Connection refused|No route to host|Network is unreachable|Host is unreachable|Name or service not known|Temporary failure in name resolution|Connection reset by peer|Broken pipe|\b(?:453|5\d\d) [A-Z][a-z]/,
      'unreachable',
    ],
    [/timed out|Timeout/i, 'timeout'],
    [/Invalid data found|Protocol not found|Invalid argument|error/i, 'malformed'],
  ];
  for (const [re, kind] of rules) {
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (re.test(l)) return { kind, message: redactUrl(l.trim()) };
    }
  }
  const last = lines.filter((l) => l.trim()).at(-1);
  return { kind: 'malformed', message: redactUrl(last?.trim() ?? 'ffmpeg failed without a message') };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Assembles a probe result from a finished (or killed) ffmpeg run. */
export function probeResult(
  run: Pick<RunResult, 'code' | 'signal' | 'timedOut' | 'tail' | 'elapsedMs' | 'queuedMs'>,
  log: FfmpegLogParser,
  progressText: string,
  o: { sampleS: number; timeoutMs: number },
): StreamProbe {
  const progress = parseProgress(progressText);
  const count = progress.frames || log.videoFramesDecoded || 0;
  const duration = round3(progress.outTimeS);
  const completed = !run.timedOut && run.code === 0 && progress.ended;
  const result: StreamProbe = {
    up: false,
    frames: { count, advancing: false, duration_s: duration },
    frozen: { detected: false },
    black: { detected: false },
    elapsed_ms: run.elapsedMs,
    queued_ms: run.queuedMs,
  };
  if (log.info.video) {
    result.video = { ...log.info.video };
    if (log.videoBytes !== undefined && duration > 0)
      result.video.bitrate_bps = Math.round((log.videoBytes * 8) / duration);
  }
  if (log.info.audio) result.audio = { ...log.info.audio };
  if (count > 0 && duration > 0) result.frames.fps = Math.round((count / duration) * 100) / 100;

  // Frozen: every freeze in the sample; one without an end lasted to the sample's end.
  if (log.freezes.length > 0) {
    let total = 0;
    for (const f of log.freezes) total += f.duration ?? Math.max(0, (f.end ?? duration) - f.start);
    const last = log.freezes.at(-1)!;
    result.frozen = {
      detected: true,
      since_s: round3(log.freezes[0]!.start),
      duration_s: round3(total),
      ongoing: last.end === undefined,
    };
  }
  if (log.blacks.length > 0) {
    const total = log.blacks.reduce((a, b) => a + b.duration, 0);
    result.black = {
      detected: true,
      duration_s: round3(total),
      ratio: duration > 0 ? Math.min(1, round3(total / duration)) : 1,
    };
  }

  const reachedEnd = duration >= o.sampleS - 0.5;
  if (completed && count > 0 && reachedEnd) {
    result.up = true;
    result.frames.advancing = count >= 2;
    return result;
  }
  if (run.timedOut) {
    result.error = {
      kind: 'timeout',
      message: !log.sawInput
        ? `no RTSP answer within ${o.timeoutMs} ms`
        : count === 0
          ? `stream described but no frame decoded within ${o.timeoutMs} ms`
          : `frames stopped after ${count} frames (${duration} s) within ${o.timeoutMs} ms`,
    };
  } else if (run.code === 0 && log.info.video) {
    result.error =
      count === 0
        ? { kind: 'malformed', message: 'stream ended before a frame could be decoded' }
        : {
            kind: 'unreachable',
            message: `stream ended after ${duration} s of the ${o.sampleS} s sample (${count} frames)`,
          };
  } else {
    result.error = classifyFfmpegError(run.tail);
  }
  if (log.sawInput && !log.info.video && result.error.kind !== 'timeout')
    result.error = {
      kind: 'no_video',
      message: log.info.audio
        ? `the stream has no video track (audio only: ${log.info.audio.codec})`
        : 'the stream has no video track',
    };
  return result;
}

/**
 * Probes one RTSP stream: is it up, what it carries, do frames advance, is the picture frozen or
 * black. Resolves with a result for every stream outcome (down, 404, audio only, timeout);
 * rejects only when the probe itself cannot run (ffmpeg missing, bad URL or options), or with
 * the signal's reason when `signal` aborts it (ffmpeg is killed, or never started if still queued).
 * Prefer a camera's sub-stream: decoding is the whole cost.
 */
export async function probeStream(url: string, opts: ProbeOptions = {}): Promise<StreamProbe> {
  checkRtspUrl(url);
  const sampleS = opts.sampleS ?? 4;
  if (!(sampleS >= 1 && sampleS <= 30))
    throw new CollectorError('unsupported', `sampleS must be from 1 to 30 seconds, got ${sampleS}`);
  const freezeMinS = opts.freezeMinS ?? Math.min(2, sampleS / 2);
  const blackMinS = opts.blackMinS ?? Math.min(1, sampleS / 2);
  if (!(freezeMinS > 0 && freezeMinS < sampleS) || !(blackMinS > 0 && blackMinS < sampleS))
    throw new CollectorError('unsupported', 'freezeMinS and blackMinS must be above 0 and below sampleS');
  const timeoutMs = opts.timeoutMs ?? sampleS * 1000 + 8000;
  if (!(timeoutMs >= 500)) throw new CollectorError('unsupported', `timeoutMs too small: ${timeoutMs}`);
  const transport = opts.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp')
    throw new CollectorError('unsupported', `transport must be tcp or udp, got ${String(transport)}`);
  const bin = findFfmpeg(opts.ffmpeg);
  const o = {
    sampleS,
    timeoutMs,
    transport,
    freezeMinS,
    freezeNoiseDb: opts.freezeNoiseDb ?? -60,
    blackMinS,
    blackPixelTh: opts.blackPixelTh ?? 0.1,
  };
  const log = new FfmpegLogParser();
  const run = await runFfmpeg({
    bin,
    args: probeArgs(url, o),
    timeoutMs,
    onStderrLine: (l) => log.line(l),
    maxOutputBytes: 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (run.aborted && opts.signal) throw abortError(opts.signal);
  return probeResult(run, log, run.outputs[0]?.toString('utf8') ?? '', o);
}

/**
 * Picks the stream to probe from a camera's profiles (e.g. ONVIF media profiles): the smallest
 * picture that has a URL, which is the sub-stream on nearly every camera.
 */
export function preferSubStream<T extends { url?: string; width?: number; height?: number }>(
  streams: T[],
): T | undefined {
  const withUrl = streams.filter((s) => s.url);
  const area = (s: T) => (s.width && s.height ? s.width * s.height : Number.POSITIVE_INFINITY);
  return withUrl.reduce<T | undefined>(
    (best, s) => (best === undefined || area(s) < area(best) ? s : best),
    undefined,
  );
}
