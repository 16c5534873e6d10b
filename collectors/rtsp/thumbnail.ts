// One JPEG thumbnail per camera: one ffmpeg run decodes the first picture, scales it down and
// encodes it at several JPEG qualities at once (one output pipe each), so a size cap never costs
// a second connection to the camera. The best quality that fits the cap wins.

import { CollectorError } from '../common/errors.js';
import { checkRtspUrl, findFfmpeg, redactUrl, runFfmpeg } from './ffmpeg.js';
import { abortError } from './limiter.js';
import { classifyFfmpegError, type ProbeErrorKind } from './probe.js';

export interface ThumbnailOptions {
  /** Widest picture, pixels (16..1920); smaller pictures are not enlarged. Default 320. */
  maxWidth?: number;
  /** Largest JPEG, bytes. Default 64,000. */
  maxBytes?: number;
  /** Hard limit on ffmpeg's life; killed with SIGKILL past it. Default 10 s. */
  timeoutMs?: number;
  transport?: 'tcp' | 'udp';
  ffmpeg?: string;
  signal?: AbortSignal;
}

/** ffmpeg -q:v values tried at once, best first (2 = best, 31 = smallest). */
export const JPEG_QUALITIES = [3, 6, 12, 20, 31] as const;

/** Why a thumbnail failed, in the probe's words, on top of the collector error kind. */
export class ThumbnailError extends CollectorError {
  override name = 'ThumbnailError';
  constructor(
    readonly reason: ProbeErrorKind | 'too_large',
    message: string,
  ) {
    super(collectorKind(reason), message);
  }
}

function collectorKind(r: ProbeErrorKind | 'too_large'): CollectorError['kind'] {
  switch (r) {
    case 'unreachable':
    case 'auth':
    case 'timeout':
      return r;
    case 'too_large':
      return 'unsupported';
    default:
      return 'malformed';
  }
}

export function thumbnailArgs(
  url: string,
  o: { maxWidth: number; timeoutMs: number; transport: 'tcp' | 'udp' },
): string[] {
  const n = JPEG_QUALITIES.length;
  const labels = JPEG_QUALITIES.map((_, i) => `[j${i}]`).join('');
  const outputs = JPEG_QUALITIES.flatMap((q, i) => [
    '-map',
    `[j${i}]`,
    '-frames:v',
    '1',
    '-q:v',
    String(q),
    '-c:v',
    'mjpeg',
    '-f',
    'image2pipe',
    i === 0 ? 'pipe:1' : `pipe:${i + 2}`,
  ]);
  return [
    '-nostdin',
    '-hide_banner',
    '-loglevel',
    'error',
    // Stream analysis stops after 0.5 s of stream (default 5 s, and it takes ~2 s on a 15 fps
    // stream): a thumbnail needs no frame rate, and ffmpeg sizes the filters from the first frame.
    '-analyzeduration',
    '500000',
    '-rtsp_transport',
    o.transport,
    '-timeout',
    String((o.timeoutMs + 1000) * 1000),
    '-threads',
    '1',
    '-i',
    url,
    '-filter_complex',
    `[0:v:0]scale='min(${o.maxWidth},iw)':-2:out_range=full,format=yuvj420p,split=${n}${labels}`,
    ...outputs,
  ];
}

/** Width and height from a JPEG's first start-of-frame marker, or undefined if not a JPEG. */
export function jpegSize(buf: Buffer): { width: number; height: number } | undefined {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return undefined;
    const marker = buf[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = buf.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return undefined;
}

/** One JPEG frame of the stream, at most `maxWidth` wide and `maxBytes` long. */
export async function grabThumbnail(url: string, opts: ThumbnailOptions = {}): Promise<Buffer> {
  checkRtspUrl(url);
  const maxWidth = opts.maxWidth ?? 320;
  const maxBytes = opts.maxBytes ?? 64_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const transport = opts.transport ?? 'tcp';
  if (!Number.isInteger(maxWidth) || maxWidth < 16 || maxWidth > 1920)
    throw new CollectorError('unsupported', `maxWidth must be an integer from 16 to 1920, got ${maxWidth}`);
  if (!(maxBytes >= 1024)) throw new CollectorError('unsupported', `maxBytes too small: ${maxBytes}`);
  if (transport !== 'tcp' && transport !== 'udp')
    throw new CollectorError('unsupported', `transport must be tcp or udp, got ${String(transport)}`);
  const bin = findFfmpeg(opts.ffmpeg);
  const run = await runFfmpeg({
    bin,
    args: thumbnailArgs(url, { maxWidth, timeoutMs, transport }),
    timeoutMs,
    extraOutputs: JPEG_QUALITIES.length - 1,
    maxOutputBytes: 4 * 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const where = redactUrl(url);
  if (run.aborted && opts.signal) throw abortError(opts.signal);
  if (run.timedOut) throw new ThumbnailError('timeout', `no picture from ${where} within ${timeoutMs} ms`);
  const jpegs = run.outputs.filter((b) => jpegSize(b) !== undefined);
  if (run.code !== 0 || jpegs.length === 0) {
    const e = classifyFfmpegError(run.tail);
    throw new ThumbnailError(e.kind, `no picture from ${where}: ${e.message}`);
  }
  const fits = jpegs.find((b) => b.length <= maxBytes);
  if (!fits) {
    const smallest = Math.min(...jpegs.map((b) => b.length));
    throw new ThumbnailError(
      'too_large',
      `thumbnail of ${where} is ${smallest} bytes at the lowest JPEG quality, above the ${maxBytes} byte cap: lower maxWidth`,
    );
  }
  return fits;
}
