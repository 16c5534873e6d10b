// The RTSP source tests and the demo watch: Debian's GStreamer RTSP server (test/support/rtsp-server.py)
// run with Debian's own python3, which has python3-gi. Fails with the install command when missing.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const DEBIAN_PYTHON = '/usr/bin/python3';
export const RTSP_SERVER = resolve(import.meta.dirname, 'rtsp-server.py');
export const RTSP_APT =
  'apt-get install -y --no-install-recommends ffmpeg gstreamer1.0-rtsp python3-gi gir1.2-gst-rtsp-server-1.0 ' +
  'gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly';

/** Throws, naming the install command, unless python3-gi, the GStreamer elements and ffmpeg are here. */
export function requireRtspPeers(): void {
  if (!existsSync(DEBIAN_PYTHON))
    throw new Error(`${DEBIAN_PYTHON} is missing (Debian's python3 is needed for python3-gi): ${RTSP_APT}`);
  const gi = spawnSync(
    DEBIAN_PYTHON,
    [
      '-c',
      "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; " +
        "Gst.init(None); missing = [e for e in ('x264enc', 'rtph264pay', 'videotestsrc', 'alawenc', 'rtppcmapay') " +
        "if Gst.ElementFactory.find(e) is None]; print(' '.join(missing))",
    ],
    { encoding: 'utf8' },
  );
  if (gi.status !== 0)
    throw new Error(`GStreamer RTSP server for Python is missing: ${RTSP_APT}\n${gi.stderr}`);
  if (gi.stdout.trim()) throw new Error(`GStreamer elements missing (${gi.stdout.trim()}): ${RTSP_APT}`);
  const ff = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
  if (ff.status !== 0) throw new Error(`ffmpeg is missing: ${RTSP_APT}`);
}

export interface RtspServer {
  proc: ChildProcess;
  port: number;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts the GStreamer RTSP server on 127.0.0.1:port and waits for its READY line. */
export function startRtspServer(port: number): Promise<RtspServer> {
  const proc = spawn(DEBIAN_PYTHON, [RTSP_SERVER, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<number | null>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
      proc.once('exit', (code) => res(code));
      proc.kill(signal);
    });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`rtsp-server.py did not get ready in 10 s:\n${out}`));
    }, 10_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`READY ${port}`)) {
        clearTimeout(timer);
        res({ proc, port, output: () => out, stop });
      }
    });
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`rtsp-server.py exited (${code}) before it was ready:\n${out}`));
    });
  });
}
