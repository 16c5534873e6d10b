// The demo's monitoring points: simulated ONVIF cameras (answering from recordings of real ones)
// whose video comes from Debian's GStreamer RTSP server: a live picture, a frozen one, a black one
// and a camera whose clock is an hour off. Without GStreamer or ffmpeg the cameras are still there
// and the board says what is missing instead of the demo failing.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type OnvifSimulator, startOnvifSimulator } from '@pantau/collectors/onvif/simulator';

const DEBIAN_PYTHON = '/usr/bin/python3';
const INSTALL =
  'apt-get install -y ffmpeg gstreamer1.0-rtsp python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly';

interface DemoCamera {
  id: string;
  name: string;
  stream: 'sub' | 'moving' | 'frozen' | 'black';
  clockOffsetMs?: number;
}

const CAMERAS: DemoCamera[] = [
  { id: 'cam-rsud', name: 'RSUD Latemmamala — IGD', stream: 'sub' },
  { id: 'cam-damkar', name: 'Pos Damkar — halaman', stream: 'sub' },
  { id: 'cam-psc', name: 'PSC 119 — ruang tunggu', stream: 'sub' },
  { id: 'cam-pasar', name: 'Pasar Sentral — pintu utama', stream: 'frozen' },
  { id: 'cam-terminal', name: 'Terminal Bus — peron', stream: 'black' },
  { id: 'cam-camat', name: 'Kantor Camat Lalabata', stream: 'sub', clockOffsetMs: 3_600_000 },
];

export interface DemoCameras {
  /** `devices:` entries for the site box that watches them. */
  yaml: string;
  /** One line for the demo's banner. */
  banner: string;
  close(): Promise<void>;
}

function gstreamerReady(): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  const r = spawnSync(
    DEBIAN_PYTHON,
    ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
    { stdio: 'ignore' },
  );
  return r.status === 0;
}

function startRtsp(root: string, port: number): Promise<ChildProcess | null> {
  const proc = spawn(
    DEBIAN_PYTHON,
    [join(root, 'test', 'support', 'rtsp-server.py'), '--port', String(port)],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve(null);
    }, 10_000);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`READY ${port}`)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

export async function startDemoCameras(root: string, dir: string, rtspPort: number): Promise<DemoCameras> {
  const ffmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
  const rtsp = gstreamerReady() ? await startRtsp(root, rtspPort) : null;
  const sims: OnvifSimulator[] = [];
  const entries: string[] = [];
  for (const c of CAMERAS) {
    const password = `demo-${c.id}`;
    const path = c.stream === 'sub' ? '/sub' : `/${c.stream}`;
    const sim = await startOnvifSimulator({
      username: 'admin',
      password,
      rtspBase: `rtsp://127.0.0.1:${rtspPort}${c.stream === 'sub' ? '/moving' : path}`,
      rtspSubBase: `rtsp://127.0.0.1:${rtspPort}${path}`,
      ...(c.clockOffsetMs ? { clockOffsetMs: c.clockOffsetMs } : {}),
      name: c.name,
    });
    sims.push(sim);
    writeFileSync(join(dir, `${c.id}.password`), `${password}\n`, { mode: 0o600 });
    entries.push(`  - id: ${c.id}
    name: "${c.name}"
    kind: camera
    address: 127.0.0.1
    interval_s: 20
    onvif: { port: ${sim.port}, username: admin, password_file: ${c.id}.password }
    camera: { sample_s: 3, thumbnail_interval_s: 120 }
`);
  }
  const banner = !ffmpeg
    ? `  Kamera             : ${CAMERAS.length} titik pantau; ffmpeg tidak terpasang, video tidak diperiksa (${INSTALL})`
    : !rtsp
      ? `  Kamera             : ${CAMERAS.length} titik pantau; sumber video GStreamer tidak ada, kamera tampil mati (${INSTALL})`
      : `  Kamera             : ${CAMERAS.length} titik pantau (satu beku, satu hitam, satu jamnya selisih 1 jam)`;
  return {
    yaml: entries.join(''),
    banner,
    close: async () => {
      await Promise.all(sims.map((s) => s.close()));
      rtsp?.kill('SIGTERM');
    },
  };
}
