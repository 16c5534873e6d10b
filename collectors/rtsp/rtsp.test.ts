// The RTSP probe against a real RTSP server (Debian's GStreamer RTSP server, from
// test/support/rtsp-server.py) and a real ffmpeg. Missing peers fail with the install command.

import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/procs.js';
import { type RtspServer, requireRtspPeers, startRtspServer } from '../../test/support/rtsp.js';
import {
  ffmpegStats,
  grabThumbnail,
  jpegSize,
  probeStream,
  resetFfmpegStats,
  type StreamProbe,
  ThumbnailError,
} from './index.js';

/** ffmpeg children of this process, zombies included (state in parentheses after the name). */
function ffmpegChildren(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(join('/proc', pid, 'stat'), 'utf8');
      const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      if (m && m[1] === 'ffmpeg' && Number(m[3]) === process.pid) found.push(`${pid} ${m[2]}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

const SAMPLE_S = 3;
let port = 0;
let server: RtspServer;
const url = (path: string) => `rtsp://127.0.0.1:${port}${path}`;

beforeAll(async () => {
  requireRtspPeers();
  port = await freePort();
  server = await startRtspServer(port);
});

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0); // exits cleanly on SIGTERM
  expect(ffmpegChildren()).toEqual([]);
});

describe('stream facts from one short ffmpeg run', () => {
  const r: Record<string, StreamProbe> = {};
  beforeAll(async () => {
    // Four probes at once: the limiter runs two, then the other two.
    const paths = ['/moving', '/sub', '/frozen', '/black'];
    const results = await Promise.all(paths.map((p) => probeStream(url(p), { sampleS: SAMPLE_S })));
    paths.forEach((p, i) => {
      r[p] = results[i]!;
    });
  }, 40_000);

  it('a moving picture is up, H.264 640x360 at 15 fps, frames advancing, neither frozen nor black', () => {
    const m = r['/moving']!;
    expect(m.error).toBeUndefined();
    expect(m).toMatchObject({
      up: true,
      video: { codec: 'h264', width: 640, height: 360, profile: 'Constrained Baseline' },
      frames: { advancing: true },
      frozen: { detected: false },
      black: { detected: false },
    });
    expect(m.video!.fps).toBe(15);
    expect(m.frames.fps!).toBeGreaterThan(12);
    expect(m.frames.fps!).toBeLessThan(18);
    expect(m.frames.count).toBeGreaterThanOrEqual(SAMPLE_S * 15 - 5);
    expect(m.frames.duration_s).toBeCloseTo(SAMPLE_S, 0);
    expect(m.video!.bitrate_bps!).toBeGreaterThan(20_000);
    expect(m.video!.bitrate_bps!).toBeLessThan(2_000_000);
    expect(m.audio).toBeUndefined();
    expect(m.elapsed_ms).toBeLessThan(SAMPLE_S * 1000 + 3000);
  });

  it('the sub-stream is 320x180', () => {
    expect(r['/sub']).toMatchObject({
      up: true,
      video: { codec: 'h264', width: 320, height: 180 },
      frames: { advancing: true },
      frozen: { detected: false },
      black: { detected: false },
    });
  });

  it('a frozen picture is up with frames advancing, and frozen', () => {
    const f = r['/frozen']!;
    expect(f).toMatchObject({ up: true, frames: { advancing: true }, black: { detected: false } });
    expect(f.frozen).toMatchObject({ detected: true, ongoing: true });
    expect(f.frozen.since_s!).toBeLessThan(1);
    expect(f.frozen.duration_s!).toBeGreaterThanOrEqual(2);
  });

  it('a black picture is black (and, being unchanging, frozen too)', () => {
    const b = r['/black']!;
    expect(b).toMatchObject({ up: true, frames: { advancing: true }, black: { detected: true } });
    expect(b.black.ratio!).toBeGreaterThan(0.9);
    expect(b.black.duration_s!).toBeGreaterThan(SAMPLE_S - 1);
    expect(b.frozen.detected).toBe(true);
  });
});

describe('streams that are not there', () => {
  it('an audio-only stream is no_video, with the audio codec named', async () => {
    const a = await probeStream(url('/audio-only'), { sampleS: SAMPLE_S });
    expect(a).toMatchObject({ up: false, error: { kind: 'no_video' }, audio: { codec: 'pcm_alaw' } });
    expect(a.video).toBeUndefined();
  });

  it('a wrong path is not_found (GStreamer answers 404), and credentials stay out of the message', async () => {
    const n = await probeStream(`rtsp://admin:s3cret@127.0.0.1:${port}/no-such-path`, { sampleS: SAMPLE_S });
    expect(n).toMatchObject({ up: false, error: { kind: 'not_found' } });
    expect(n.error!.message).toContain('404');
    expect(n.error!.message).not.toContain('s3cret');
    expect(n.elapsed_ms).toBeLessThan(2000);
  });

  it('a port that accepts but never speaks RTSP times out within the timeout, and ffmpeg is killed', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const a = silent.address();
    const silentPort = typeof a === 'object' && a ? a.port : 0;
    try {
      const before = ffmpegStats().killedOnTimeout;
      const t0 = Date.now();
      const p = await probeStream(`rtsp://127.0.0.1:${silentPort}/x`, { sampleS: 2, timeoutMs: 1500 });
      const took = Date.now() - t0;
      expect(p).toMatchObject({ up: false, error: { kind: 'timeout' } });
      expect(p.error!.message).toMatch(/no RTSP answer within 1500 ms/);
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(2500);
      expect(ffmpegStats().killedOnTimeout).toBe(before + 1);
      expect(ffmpegStats().running).toBe(0);
      expect(ffmpegChildren()).toEqual([]); // killed and reaped: no zombie
      expect(sockets.size).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('refuses URLs that are not rtsp:// or rtsps:// without running anything', async () => {
    const before = ffmpegStats().spawned;
    for (const bad of ['http://127.0.0.1/x', '-i /etc/passwd', 'rtsp://host/a b', 'file:///etc/passwd', ''])
      await expect(probeStream(bad)).rejects.toMatchObject({ name: 'CollectorError', kind: 'unsupported' });
    expect(ffmpegStats().spawned).toBe(before);
  });

  it('a missing ffmpeg is a clear unsupported error with the install command', async () => {
    await expect(probeStream(url('/moving'), { ffmpeg: '/nonexistent/ffmpeg' })).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringContaining('apt-get install -y ffmpeg'),
    });
    await expect(grabThumbnail(url('/moving'), { ffmpeg: '/nonexistent/ffmpeg' })).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringContaining('apt-get install -y ffmpeg'),
    });
  });
});

describe('the server goes away and comes back', () => {
  it('killed mid-sample: that probe says down; the next one is unreachable at once; after a restart, up again', async () => {
    const during = probeStream(url('/moving'), { sampleS: SAMPLE_S, timeoutMs: 6000 });
    await new Promise((r) => setTimeout(r, 1500));
    await server.stop('SIGKILL'); // as in a power cut: no RTSP teardown
    const cut = await during;
    expect(cut).toMatchObject({ up: false, error: { kind: 'unreachable' }, video: { codec: 'h264' } });
    expect(cut.error!.message).toMatch(/stream ended after/);
    expect(cut.elapsed_ms).toBeLessThan(2500); // at once, not at the timeout

    const t0 = Date.now();
    const down = await probeStream(url('/moving'), { sampleS: SAMPLE_S });
    expect(down).toMatchObject({ up: false, error: { kind: 'unreachable' } });
    expect(Date.now() - t0).toBeLessThan(2000); // well within one probe interval

    server = await startRtspServer(port); // same port
    const back = await probeStream(url('/moving'), { sampleS: 2 });
    expect(back).toMatchObject({ up: true, frames: { advancing: true }, video: { width: 640 } });
  }, 30_000);
});

describe('thumbnails', () => {
  it('one JPEG frame, at most 320 wide and within the byte cap', async () => {
    const jpg = await grabThumbnail(url('/moving'));
    expect([...jpg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(jpg.length).toBeLessThanOrEqual(64_000);
    expect(jpegSize(jpg)).toEqual({ width: 320, height: 180 });
  });

  it('a tighter cap picks a lower JPEG quality from the same single ffmpeg run', async () => {
    const best = await grabThumbnail(url('/frozen'), { maxBytes: 64_000 });
    const before = ffmpegStats().spawned;
    const small = await grabThumbnail(url('/frozen'), { maxBytes: best.length - 1 });
    expect(small.length).toBeLessThan(best.length);
    expect(ffmpegStats().spawned).toBe(before + 1);
  });

  it('a cap that even the lowest quality cannot meet fails clearly', async () => {
    const e = await grabThumbnail(url('/moving'), { maxWidth: 640, maxBytes: 1024 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ThumbnailError);
    expect(e).toMatchObject({
      reason: 'too_large',
      kind: 'unsupported',
      message: expect.stringMatching(/lower maxWidth/),
    });
  });

  it('a wrong path fails as not found', async () => {
    await expect(grabThumbnail(url('/no-such-path'))).rejects.toMatchObject({ reason: 'not_found' });
  });
});

describe('aborting (the site box shuts down)', () => {
  it('kills running probes and drops queued ones; the promises reject with the reason', async () => {
    const before = ffmpegStats().spawned;
    const ac = new AbortController();
    const probes = ['/moving', '/sub', '/frozen'].map((p) =>
      probeStream(url(p), { sampleS: SAMPLE_S, signal: ac.signal }).then(
        () => 'resolved',
        (e: Error) => e.name,
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(ffmpegStats()).toMatchObject({ running: 2, queued: 1 });
    const t0 = Date.now();
    ac.abort();
    expect(await Promise.all(probes)).toEqual(['AbortError', 'AbortError', 'AbortError']);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(ffmpegStats()).toMatchObject({ running: 0, queued: 0, spawned: before + 2 });
    expect(ffmpegChildren()).toEqual([]);
  });
});

describe('the limiter', () => {
  it('six probes started at once: never more than two ffmpeg processes, and all six succeed', async () => {
    resetFfmpegStats();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => probeStream(url(i % 2 ? '/sub' : '/moving'), { sampleS: 2 })),
    );
    for (const r of results) expect(r).toMatchObject({ up: true, frames: { advancing: true } });
    const stats = ffmpegStats();
    expect(stats.peak).toBe(2);
    expect(stats.spawned).toBe(6);
    expect(stats.running).toBe(0);
    expect(stats.queued).toBe(0);
    expect(Math.max(...results.map((r) => r.queued_ms))).toBeGreaterThan(1500); // the last ones waited
  }, 30_000);
});
