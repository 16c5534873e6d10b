// Parsing ffmpeg's log and progress output, from lines as Debian 12's ffmpeg 5.1 prints them.

import { describe, expect, it } from 'vitest';
import { checkRtspUrl, redactUrl } from './ffmpeg.js';
import {
  classifyFfmpegError,
  FfmpegLogParser,
  parseProgress,
  parseStreamLine,
  preferSubStream,
  probeArgs,
  probeResult,
} from './probe.js';
import { jpegSize, thumbnailArgs } from './thumbnail.js';

const MOVING_LOG = `Input #0, rtsp, from 'rtsp://127.0.0.1:8554/moving':
  Metadata:
    title           : Session streamed with GStreamer
  Duration: N/A, start: 0.066667, bitrate: N/A
  Stream #0:0: Video: h264 (Constrained Baseline), 1 reference frame, yuv420p(tv, smpte170m, progressive, center), 640x360 (640x368) [SAR 1:1 DAR 16:9], 15 fps, 15 tbr, 90k tbn
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, 1 reference frame, yuv420p(tv, smpte170m, progressive, center), 640x360 (0x0) [SAR 1:1 DAR 16:9], q=2-31, 200 kb/s, 15 fps, 15 tbn
[freezedetect @ 0x55dfaaee3740] lavfi.freezedetect.freeze_start: 0.4
[freezedetect @ 0x55dfaaee3740] lavfi.freezedetect.freeze_duration: 1.2
[freezedetect @ 0x55dfaaee3740] lavfi.freezedetect.freeze_end: 1.6
[freezedetect @ 0x55dfaaee3740] lavfi.freezedetect.freeze_start: 2.5
Input file #0 (rtsp://127.0.0.1:8554/moving):
  Input stream #0:0 (video): 62 packets read (150000 bytes); 62 frames decoded; 
  Total: 62 packets (150000 bytes) demuxed
[blackdetect @ 0x55dfab0161c0] black_start:3 black_end:4 black_duration:1`;

const PROGRESS = `frame=1
fps=0.00
out_time_us=66667
progress=continue
frame=61
fps=27.1
out_time_us=4000000
progress=end
`;

function parse(log: string): FfmpegLogParser {
  const p = new FfmpegLogParser();
  for (const l of log.split('\n')) p.line(l);
  return p;
}

const ok = { code: 0, signal: null, timedOut: false, tail: [], elapsedMs: 4200, queuedMs: 0 };

describe('ffmpeg log', () => {
  it('reads the input stream, not the output one, and the totals, freezes and blacks', () => {
    const p = parse(MOVING_LOG);
    expect(p.info.video).toEqual({
      codec: 'h264',
      width: 640,
      height: 360,
      fps: 15,
      profile: 'Constrained Baseline',
    });
    expect(p.videoBytes).toBe(150000);
    expect(p.freezes).toEqual([{ start: 0.4, duration: 1.2, end: 1.6 }, { start: 2.5 }]);
    expect(p.blacks).toEqual([{ start: 3, end: 4, duration: 1 }]);
  });

  it('turns a finished run into a result: freezes summed, the open one ongoing, bitrate over the sample', () => {
    const r = probeResult(ok, parse(MOVING_LOG), PROGRESS, { sampleS: 4, timeoutMs: 12000 });
    expect(r).toMatchObject({
      up: true,
      frames: { count: 61, advancing: true, duration_s: 4, fps: 15.25 },
      frozen: { detected: true, since_s: 0.4, duration_s: 2.7, ongoing: true },
      black: { detected: true, duration_s: 1, ratio: 0.25 },
      video: { bitrate_bps: 300000 },
    });
    expect(r.error).toBeUndefined();
  });

  it('reads stream lines of other cameras', () => {
    expect(
      parseStreamLine(
        '  Stream #0:0[0x100]: Video: hevc (Main) (HEVC / 0x43564548), yuvj420p(pc, bt709), 1920x1080, 25 fps, 25 tbr, 90k tbn',
      ),
    ).toEqual({
      type: 'video',
      video: { codec: 'hevc', width: 1920, height: 1080, fps: 25, profile: 'Main' },
    });
    expect(
      parseStreamLine('    Stream #0:1(und): Video: h264, yuv420p(progressive), 704x576, 12.50 tbr, 90k tbn'),
    ).toEqual({ type: 'video', video: { codec: 'h264', width: 704, height: 576, fps: 12.5 } });
    expect(parseStreamLine('  Stream #0:1: Audio: aac (LC), 16000 Hz, mono, fltp')).toEqual({
      type: 'audio',
      audio: { codec: 'aac' },
    });
    expect(
      parseStreamLine('  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))'),
    ).toBeUndefined();
  });

  it('reads the last progress block', () => {
    expect(parseProgress(PROGRESS)).toEqual({ frames: 61, outTimeS: 4, ended: true });
    expect(parseProgress('')).toEqual({ frames: 0, outTimeS: 0, ended: false });
  });
});

describe('errors', () => {
  const kind = (...lines: string[]) => classifyFfmpegError(lines).kind;
  it('maps what cameras and ffmpeg say to a kind', () => {
    expect(
      kind(
        '[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized',
        'rtsp://a/b: Server returned 401 Unauthorized (authorization failed)',
      ),
    ).toBe('auth');
    expect(kind('rtsp://a/b: Server returned 403 Forbidden (access denied)')).toBe('auth');
    expect(
      kind('[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found', 'rtsp://a/b: Server returned 404 Not Found'),
    ).toBe('not_found');
    expect(kind('rtsp://127.0.0.1:1/x: Connection refused')).toBe('unreachable');
    expect(kind('rtsp://10.9.9.9/x: No route to host')).toBe('unreachable');
    expect(kind('[rtsp @ 0x1] method DESCRIBE failed: 503 Service Unavailable')).toBe('unreachable');
    expect(kind('[rtsp @ 0x1] method SETUP failed: 453 Not Enough Bandwidth')).toBe('unreachable');
    expect(kind('rtsp://a/b: Connection timed out')).toBe('timeout');
    expect(kind("Stream map '0:v:0' matches no streams.")).toBe('no_video');
    expect(kind('rtsp://a/b: Invalid data found when processing input')).toBe('malformed');
    expect(
      kind(
        '[tcp @ 0x1] Statistics: 401 bytes read, 0 seeks',
        'rtsp://a: Invalid data found when processing input',
      ),
    ).toBe('malformed');
    expect(classifyFfmpegError([])).toEqual({
      kind: 'malformed',
      message: 'ffmpeg failed without a message',
    });
  });

  it('keeps passwords out of messages', () => {
    expect(classifyFfmpegError(['rtsp://admin:hunter2@10.0.0.5:554/s1: Connection refused']).message).toBe(
      'rtsp://admin:***@10.0.0.5:554/s1: Connection refused',
    );
    expect(redactUrl("Input #0, rtsp, from 'rtsps://u:p%40ss@cam/x':")).toBe(
      "Input #0, rtsp, from 'rtsps://u:***@cam/x':",
    );
  });

  it('a run killed before any answer is a timeout; one that ended early is unreachable', () => {
    const killed = probeResult(
      { ...ok, code: null, signal: 'SIGKILL', timedOut: true },
      new FfmpegLogParser(),
      '',
      {
        sampleS: 4,
        timeoutMs: 1500,
      },
    );
    expect(killed).toMatchObject({
      up: false,
      error: { kind: 'timeout', message: 'no RTSP answer within 1500 ms' },
    });
    const short = probeResult(ok, parse(MOVING_LOG), 'frame=12\nout_time_us=800000\nprogress=end\n', {
      sampleS: 4,
      timeoutMs: 12000,
    });
    expect(short).toMatchObject({ up: false, error: { kind: 'unreachable' }, frames: { count: 12 } });
  });
});

describe('arguments and URLs', () => {
  it('passes the URL as one argument after -i, with fixed options around it', () => {
    const url = 'rtsp://u:p@10.0.0.5/Streaming/Channels/102';
    const args = probeArgs(url, {
      sampleS: 4,
      timeoutMs: 12000,
      transport: 'tcp',
      freezeMinS: 2,
      freezeNoiseDb: -60,
      blackMinS: 1,
      blackPixelTh: 0.1,
    });
    expect(args[args.indexOf('-i') + 1]).toBe(url);
    expect(args.filter((a) => a === url)).toHaveLength(1);
    expect(args).toContain('freezedetect=n=-60dB:d=2,blackdetect=d=1:pix_th=0.1');
    expect(args.slice(args.indexOf('-timeout'), args.indexOf('-timeout') + 2)).toEqual([
      '-timeout',
      '13000000',
    ]);
    const t = thumbnailArgs(url, { maxWidth: 320, timeoutMs: 10000, transport: 'udp' });
    expect(t[t.indexOf('-i') + 1]).toBe(url);
    expect(t).toEqual(expect.arrayContaining(['pipe:1', 'pipe:3', 'pipe:6']));
  });

  it('accepts rtsp:// and rtsps:// only', () => {
    expect(checkRtspUrl('rtsps://cam.local:322/live').hostname).toBe('cam.local');
    for (const bad of ['http://x/y', ' rtsp://x/y', 'rtsp://x/y\n-i', 'rtsp:///nohost', 'rtsp://x/a b'])
      expect(() => checkRtspUrl(bad), bad).toThrow(/RTSP URL|valid URL/);
  });

  it('prefers the smallest stream that has a URL', () => {
    const main = { url: 'rtsp://c/101', width: 1920, height: 1080 };
    const sub = { url: 'rtsp://c/102', width: 640, height: 360 };
    expect(preferSubStream([main, sub, { width: 320, height: 180 }])).toBe(sub);
    expect(preferSubStream([{ url: 'rtsp://c/x' }, main])).toBe(main);
    expect(preferSubStream([])).toBeUndefined();
  });

  it('reads a JPEG size from its frame header, and nothing from what is not a JPEG', () => {
    // SOI, APP0 (length 4), SOF0 with height 180 and width 320
    const jpg = Buffer.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0xb4, 0x01, 0x40,
      0x03, 0x01, 0x22, 0x00,
    ]);
    expect(jpegSize(jpg)).toEqual({ width: 320, height: 180 });
    expect(jpegSize(Buffer.from('not a jpeg'))).toBeUndefined();
  });
});
