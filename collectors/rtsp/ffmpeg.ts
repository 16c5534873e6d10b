// Running ffmpeg as a child process: fixed arguments, no shell, a slot from the limiter, a hard
// SIGKILL when it outlives its timeout, and the child always reaped before the promise settles.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CollectorError } from '../common/errors.js';
import { countKilledOnTimeout, countSpawn, withFfmpegSlot } from './limiter.js';

export const FFMPEG_MISSING = 'ffmpeg is not installed: apt-get install -y ffmpeg';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The ffmpeg binary to run: the given path, else the first `ffmpeg` on PATH, else /usr/bin/ffmpeg. */
export function findFfmpeg(override?: string): string {
  if (override !== undefined) {
    if (!executable(override))
      throw new CollectorError('unsupported', `${override} is not an executable ffmpeg; ${FFMPEG_MISSING}`);
    return override;
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin']) {
    const p = join(dir, 'ffmpeg');
    if (executable(p)) return p;
  }
  throw new CollectorError('unsupported', FFMPEG_MISSING);
}

const MAX_URL = 2048;

/**
 * Accepts only rtsp:// and rtsps:// URLs with a host, no whitespace or control characters.
 * The URL is passed to ffmpeg as one argv element after `-i`, never through a shell.
 */
export function checkRtspUrl(url: string): URL {
  if (typeof url !== 'string' || url.length > MAX_URL)
    throw new CollectorError('unsupported', `not an RTSP URL (empty or longer than ${MAX_URL} characters)`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (!/^rtsps?:\/\//i.test(url) || /[\s\u0000-\u001f\u007f]/.test(url))
    throw new CollectorError(
      'unsupported',
      `not an RTSP URL: ${redactUrl(url)} (must start with rtsp:// or rtsps://, no spaces)`,
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CollectorError('unsupported', `not a valid URL: ${redactUrl(url)}`);
  }
  if (!parsed.hostname) throw new CollectorError('unsupported', `RTSP URL without a host: ${redactUrl(url)}`);
  return parsed;
}

/** Hides the password of every rtsp(s)://user:password@ in a text (URLs and ffmpeg's messages). */
export function redactUrl(text: string): string {
  return text.replace(/(rtsps?:\/\/[^/\s:@]*):[^@\s/]*@/gi, '$1:***@');
}

export interface RunOptions {
  bin: string;
  args: string[];
  /** Hard limit on the process's life, from spawn (time waiting for a slot is not counted). */
  timeoutMs: number;
  /** Output pipes beyond stdout, as fd 3, 4, ... (ffmpeg writes to them as pipe:3, pipe:4, ...). */
  extraOutputs?: number;
  /** Each stderr line as it arrives (ffmpeg's log). */
  onStderrLine?: (line: string) => void;
  /** Cap per output pipe; what is beyond it is dropped and `overflow` set. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by us because it outlived `timeoutMs`. */
  timedOut: boolean;
  /** Killed by us because the caller aborted. */
  aborted: boolean;
  /** stdout, then fd 3, 4, ... */
  outputs: Buffer[];
  overflow: boolean;
  /** The last stderr lines (for error messages). */
  tail: string[];
  elapsedMs: number;
  queuedMs: number;
}

const TAIL_LINES = 40;

/** Runs one process inside a limiter slot; resolves once the child is reaped and its pipes closed. */
export function runFfmpeg(opts: RunOptions): Promise<RunResult> {
  const queuedAt = performance.now();
  return withFfmpegSlot(
    () =>
      new Promise<RunResult>((resolve, reject) => {
        const startedAt = performance.now();
        const extra = opts.extraOutputs ?? 0;
        const cap = opts.maxOutputBytes ?? 8 * 1024 * 1024;
        const child = spawn(opts.bin, opts.args, {
          stdio: ['ignore', 'pipe', 'pipe', ...Array.from({ length: extra }, () => 'pipe' as const)],
          shell: false,
          windowsHide: true,
        });
        countSpawn();
        let timedOut = false;
        let aborted = false;
        let overflow = false;
        const chunks: Buffer[][] = Array.from({ length: 1 + extra }, () => []);
        const sizes = new Array<number>(1 + extra).fill(0);
        const outStreams = [child.stdio[1], ...child.stdio.slice(3)];
        outStreams.forEach((s, i) => {
          s?.on('data', (d: Buffer) => {
            if (sizes[i]! + d.length > cap) {
              overflow = true;
              return;
            }
            sizes[i]! += d.length;
            chunks[i]!.push(d);
          });
        });
        const tail: string[] = [];
        let partial = '';
        const line = (l: string) => {
          if (l.length === 0) return;
          tail.push(l);
          if (tail.length > TAIL_LINES) tail.shift();
          opts.onStderrLine?.(l);
        };
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (d: string) => {
          // ffmpeg ends progress lines with \r; treat it as a line end too.
          const parts = (partial + d).split(/\r\n|\r|\n/);
          partial = parts.pop() ?? '';
          if (partial.length > 64 * 1024) partial = partial.slice(-64 * 1024);
          for (const p of parts) line(p);
        });
        const kill = () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        };
        const timer = setTimeout(() => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          timedOut = true;
          countKilledOnTimeout();
          kill();
        }, opts.timeoutMs);
        const onAbort = () => {
          aborted = true;
          kill();
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        if (opts.signal?.aborted) onAbort();
        let failed = false;
        child.on('error', (e: NodeJS.ErrnoException) => {
          // ENOENT/EACCES: the process never started, so there is no 'close' to wait for.
          failed = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          kill();
          reject(
            e.code === 'ENOENT'
              ? new CollectorError('unsupported', FFMPEG_MISSING, { cause: e })
              : new CollectorError('unsupported', `cannot run ${opts.bin}: ${e.message}`, { cause: e }),
          );
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (failed) return;
          line(partial);
          resolve({
            code,
            signal,
            timedOut,
            aborted,
            outputs: chunks.map((c) => Buffer.concat(c)),
            overflow,
            tail,
            elapsedMs: Math.round(performance.now() - startedAt),
            queuedMs: Math.round(startedAt - queuedAt),
          });
        });
      }),
    opts.signal,
  );
}
