// A monitoring point (titik pantau): is the camera actually seeing? ONVIF says whether it answers and
// accepts our credentials and what its clock says; a short RTSP sample says whether frames arrive,
// move on, and are not frozen or black. Each is a separate fact; the state names the first that fails.
// Frozen, black and offline must hold for `confirm_polls` probes before they are reported, so one
// lost sample does not page an operator.

import type { CollectorError } from '@pantau/collectors/common';
import {
  type CollectTarget,
  collectOnvif,
  fetchSnapshot,
  type OnvifResult,
  setCameraClock,
} from '@pantau/collectors/onvif';
import { grabThumbnail, jpegSize, probeStream, type StreamProbe } from '@pantau/collectors/rtsp';
import type { CameraStatus, EventPayload, Reading, Reason, Status } from '@pantau/contract';
import type { DeviceConfig } from './config.js';
import { fmtOffset } from './format.js';

export type CameraSettings = NonNullable<DeviceConfig['camera']>;

export interface CameraObservation {
  ts: number;
  onvif: OnvifResult | null;
  probe: StreamProbe | null;
  /** Why no probe ran (no stream address, ffmpeg missing). */
  probeSkipped?: Reason;
}

/** What a camera event says; the daemon adds seq, site and device. */
export interface CameraEvent {
  type: EventPayload['type'];
  severity: EventPayload['severity'];
  message: { id: string; en: string };
  data?: Record<string, unknown>;
}

/** Memory between probes: debounce counters and what was last reported. */
export interface CameraMemory {
  reported: { down: boolean; frozen: boolean; black: boolean; drift: boolean; authFailed: boolean };
  streak: { down: number; up: number; frozen: number; unfrozen: number; black: number; unblack: number };
  lastGoodFrame: number | null;
}

export function newCameraMemory(): CameraMemory {
  return {
    reported: { down: false, frozen: false, black: false, drift: false, authFailed: false },
    streak: { down: 0, up: 0, frozen: 0, unfrozen: 0, black: 0, unblack: 0 },
    lastGoodFrame: null,
  };
}

const r = (code: string, id: string, en: string): Reason => ({ code, id, en });

const STREAM_ERRORS: Record<string, { id: string; en: string }> = {
  unreachable: { id: 'aliran video tidak terjangkau', en: 'stream unreachable' },
  auth: { id: 'aliran video menolak kredensial', en: 'stream refused the credentials' },
  not_found: { id: 'alamat aliran video tidak ada', en: 'stream address not found' },
  no_video: { id: 'aliran tanpa video (hanya audio)', en: 'no video track (audio only)' },
  timeout: { id: 'aliran video tidak menjawab tepat waktu', en: 'stream did not answer in time' },
  malformed: { id: 'aliran video rusak', en: 'stream unreadable' },
};

/** Whether this probe saw a live picture: frames advancing, not frozen, not black. */
export function goodPicture(p: StreamProbe | null): boolean {
  return (
    !!p?.up && p.frames.advancing && !(p.frozen.detected && p.frozen.ongoing !== false) && !p.black.detected
  );
}

export interface CameraJudgement {
  status: Status;
  reasons: Reason[];
  camera: CameraStatus;
  readings: Reading[];
  events: CameraEvent[];
}

/** Judges one observation against the memory (which it updates) and the settings. */
export function judgeCamera(
  o: CameraObservation,
  mem: CameraMemory,
  cfg: Pick<CameraSettings, 'clock_warn_s' | 'confirm_polls'>,
  name: string,
): CameraJudgement {
  const p = o.probe;
  const onvif = o.onvif;
  const events: CameraEvent[] = [];
  const confirm = cfg.confirm_polls;
  const streamUp = p?.up === true;
  const blackNow = streamUp && p!.black.detected;
  // A black picture never changes either: it is black, not frozen.
  const frozenNow = streamUp && p!.frozen.detected && p!.frozen.ongoing !== false && !blackNow;
  // Down = no picture at all: the stream failed, or (without a probe) ONVIF cannot reach the camera.
  const downNow = p ? !streamUp : onvif?.state === 'Unreachable';
  const s = mem.streak;
  s.down = downNow ? s.down + 1 : 0;
  s.up = downNow ? 0 : s.up + 1;
  s.frozen = frozenNow ? s.frozen + 1 : 0;
  s.unfrozen = frozenNow ? 0 : s.unfrozen + 1;
  s.black = blackNow ? s.black + 1 : 0;
  s.unblack = blackNow ? 0 : s.unblack + 1;
  const rep = mem.reported;
  const ev = (
    type: CameraEvent['type'],
    severity: CameraEvent['severity'],
    id: string,
    en: string,
    data?: Record<string, unknown>,
  ) =>
    events.push({
      type,
      severity,
      message: { id: `${name}: ${id}`, en: `${name}: ${en}` },
      ...(data ? { data } : {}),
    });

  const streamError = p?.error ? (STREAM_ERRORS[p.error.kind] ?? STREAM_ERRORS.malformed!) : null;
  if (!rep.down && s.down >= confirm) {
    rep.down = true;
    ev(
      'camera_stream_down',
      'critical',
      `titik pantau mati (${streamError?.id ?? 'kamera tidak terjangkau'})`,
      `monitoring point down (${streamError?.en ?? 'camera unreachable'})`,
      p?.error ? { error: p.error } : undefined,
    );
  } else if (rep.down && s.up >= confirm) {
    rep.down = false;
    ev('camera_stream_up', 'info', 'titik pantau aktif kembali', 'monitoring point live again');
  }
  if (!rep.frozen && s.frozen >= confirm) {
    rep.frozen = true;
    ev('camera_frozen', 'warning', 'gambar beku (tidak berubah)', 'picture frozen (not changing)');
  } else if (rep.frozen && (s.unfrozen >= confirm || rep.down)) {
    rep.frozen = false;
    if (!rep.down) ev('camera_unfrozen', 'info', 'gambar bergerak kembali', 'picture moving again');
  }
  if (!rep.black && s.black >= confirm) {
    rep.black = true;
    ev('camera_black', 'warning', 'gambar hitam', 'picture black');
  } else if (rep.black && (s.unblack >= confirm || rep.down)) {
    rep.black = false;
    if (!rep.down) ev('camera_picture_ok', 'info', 'gambar terlihat kembali', 'picture visible again');
  }
  const authFailed = onvif?.state === 'UpWithoutAuth';
  if (authFailed && !rep.authFailed)
    ev('camera_auth_failed', 'warning', 'ONVIF menolak kredensial', 'ONVIF refused the credentials');
  rep.authFailed = authFailed;

  const offsetS = onvif?.clock ? Math.round(onvif.clock.offset_ms / 100) / 10 : undefined;
  if (offsetS !== undefined) {
    const abs = Math.abs(offsetS);
    // Hysteresis: raised beyond the limit, cleared only below half of it.
    if (!rep.drift && abs > cfg.clock_warn_s) {
      rep.drift = true;
      ev(
        'clock_drift',
        'warning',
        `jam kamera selisih ${fmtOffset(offsetS)}`,
        `camera clock off by ${fmtOffset(offsetS)}`,
        {
          offset_s: offsetS,
        },
      );
    } else if (rep.drift && abs < cfg.clock_warn_s / 2) rep.drift = false;
  }

  if (goodPicture(p)) mem.lastGoodFrame = o.ts;

  // State: the first fact that fails, then everything else worth saying.
  const reasons: Reason[] = [];
  let status: Status = 'ok';
  if (rep.down || (downNow && !p)) {
    status = 'down';
    if (
      onvif?.state === 'Unreachable' &&
      (!p || p.error?.kind === 'unreachable' || p.error?.kind === 'timeout')
    )
      reasons.push(
        r(
          'camera_unreachable',
          'Kamera tidak terjangkau (ONVIF dan video diam)',
          'Camera unreachable (ONVIF and video silent)',
        ),
      );
    else if (streamError)
      reasons.push(
        r(
          `stream_${p!.error!.kind}`,
          `Video tidak mengalir: ${streamError.id}`,
          `No video: ${streamError.en}`,
        ),
      );
    else reasons.push(r('camera_unreachable', 'Kamera tidak terjangkau', 'Camera unreachable'));
  } else if (downNow) {
    // Not yet confirmed: say what was seen without calling it down.
    status = 'degraded';
    reasons.push(
      r(
        'stream_unconfirmed',
        `Video tidak mengalir pada pemeriksaan terakhir${streamError ? ` (${streamError.id})` : ''}`,
        `No video at the last probe${streamError ? ` (${streamError.en})` : ''}`,
      ),
    );
  }
  if (rep.frozen) {
    status = status === 'down' ? status : 'degraded';
    reasons.push(
      r('picture_frozen', 'Gambar beku: bingkai tidak berubah', 'Picture frozen: frames not changing'),
    );
  }
  if (rep.black) {
    status = status === 'down' ? status : 'degraded';
    reasons.push(r('picture_black', 'Gambar hitam', 'Picture black'));
  }
  if (streamUp && !p!.frames.advancing && !rep.frozen) {
    status = status === 'down' ? status : 'degraded';
    reasons.push(r('frames_stalled', 'Bingkai video tidak maju', 'Video frames not advancing'));
  }
  if (authFailed) {
    status = status === 'down' ? status : 'degraded';
    reasons.push(
      r(
        'onvif_auth',
        'ONVIF menolak kredensial (user/kata sandi salah)',
        'ONVIF refused the credentials (wrong user/password)',
      ),
    );
  } else if (onvif?.state === 'Reachable')
    reasons.push(
      r(
        'onvif_silent',
        'Port kamera terbuka tetapi ONVIF tidak menjawab',
        'Camera port open but ONVIF silent',
      ),
    );
  if (rep.drift && offsetS !== undefined) {
    status = status === 'down' ? status : 'degraded';
    reasons.push(
      r(
        'clock_drift',
        `Jam kamera selisih ${fmtOffset(offsetS)} (batas ${cfg.clock_warn_s} detik)`,
        `Camera clock off by ${fmtOffset(offsetS)} (limit ${cfg.clock_warn_s} s)`,
      ),
    );
  }
  if (o.probeSkipped) reasons.push(o.probeSkipped);

  const camera: CameraStatus = {
    onvif: onvif?.state ?? null,
    stream: p ? (streamUp ? 'up' : 'down') : 'unknown',
    frozen: rep.frozen,
    black: rep.black,
    last_good_frame: mem.lastGoodFrame,
    ...(p?.error ? { stream_error: p.error.message } : {}),
    ...(p?.video ? { codec: p.video.codec, width: p.video.width, height: p.video.height } : {}),
    ...(p?.frames.fps !== undefined ? { fps: p.frames.fps } : p?.video?.fps ? { fps: p.video.fps } : {}),
    ...(offsetS !== undefined ? { clock_offset_s: offsetS } : {}),
    ...(o.probeSkipped ? { notice: o.probeSkipped } : {}),
  };

  const values: Reading['values'] = {};
  if (p) {
    values.stream_up = streamUp ? 1 : 0;
    if (streamUp) {
      values.video_frozen = frozenNow ? 1 : 0;
      values.video_black = blackNow ? 1 : 0;
      const fps = p.frames.fps ?? p.video?.fps ?? undefined;
      if (fps !== undefined && fps !== null) values.video_fps = Math.round(fps * 100) / 100;
      if (p.video?.bitrate_bps !== undefined) values.video_bitrate_bps = p.video.bitrate_bps;
      if (p.video) {
        values.video_width_px = p.video.width;
        values.video_height_px = p.video.height;
      }
    }
  }
  if (offsetS !== undefined) values.clock_offset_s = offsetS;
  const readings = Object.keys(values).length > 0 ? [{ ts: o.ts, values }] : [];
  return { status, reasons, camera, readings, events };
}

/** The stream URL with the camera's credentials, as ffmpeg needs them. */
export function withCredentials(
  url: string,
  username: string | undefined,
  password: string | undefined,
): string {
  const u = new URL(url);
  if (username && !u.username) {
    u.username = username;
    u.password = password ?? '';
  }
  return u.toString();
}

export interface CameraTarget {
  device: DeviceConfig;
  settings: CameraSettings;
  onvif: CollectTarget | null;
  /** The camera's own snapshot proved too large or too wide: go straight to a frame via ffmpeg. */
  snapshotUnfit?: boolean;
}

export function cameraTarget(d: DeviceConfig, password: string | undefined, timeoutMs: number): CameraTarget {
  const settings: CameraSettings = d.camera ?? {
    stream: 'sub',
    sample_s: 4,
    transport: 'tcp',
    thumbnail_interval_s: 600,
    thumbnail_max_width: 320,
    thumbnail_max_bytes: 64000,
    clock_warn_s: 30,
    confirm_polls: 2,
  };
  return {
    device: d,
    settings,
    onvif: d.onvif
      ? {
          address: d.address,
          port: d.onvif.port,
          path: d.onvif.path,
          https: d.onvif.https,
          username: d.onvif.username,
          password: password ?? '',
          timeoutMs,
        }
      : null,
  };
}

/** One look at the camera: ONVIF, then a short sample of its stream. */
export async function observeCamera(
  t: CameraTarget,
  signal: AbortSignal,
  ffmpegMissing: Reason | null,
): Promise<CameraObservation> {
  const onvif = t.onvif ? await collectOnvif({ ...t.onvif, signal }) : null;
  const chosen =
    t.settings.rtsp_url ?? (t.settings.stream === 'main' ? onvif?.mainStreamUri : onvif?.streamUri);
  const ts = Date.now();
  if (!chosen)
    return {
      ts,
      onvif,
      probe: null,
      probeSkipped: r(
        'no_stream_address',
        'Alamat video belum diketahui (ONVIF tidak memberi, camera.rtsp_url kosong)',
        'Stream address unknown (ONVIF gave none, camera.rtsp_url not set)',
      ),
    };
  if (ffmpegMissing) return { ts, onvif, probe: null, probeSkipped: ffmpegMissing };
  const url = withCredentials(chosen, t.onvif?.username, t.onvif?.password);
  const probe = await probeStream(url, {
    sampleS: t.settings.sample_s,
    transport: t.settings.transport,
    signal,
  });
  return { ts: Date.now(), onvif, probe };
}

/** A thumbnail: the camera's own snapshot when it fits the cap, else one frame of the stream. */
export async function takeThumbnail(
  t: CameraTarget,
  o: CameraObservation,
  ffmpegMissing: Reason | null,
  signal: AbortSignal,
): Promise<{ jpeg: Buffer; width?: number } | null> {
  const s = t.settings;
  const snapshotUri = o.onvif?.snapshotUri;
  if (snapshotUri && o.onvif?.state === 'UpWithAuth' && !t.snapshotUnfit) {
    try {
      const jpeg = await fetchSnapshot(
        snapshotUri,
        t.onvif ? { username: t.onvif.username, password: t.onvif.password } : undefined,
        { timeoutMs: 5000, maxBytes: s.thumbnail_max_bytes, signal },
      );
      const size = jpegSize(jpeg);
      if (size && size.width <= s.thumbnail_max_width) return { jpeg, width: size.width };
      t.snapshotUnfit = true;
    } catch (e) {
      // Too large or refused: fall back to a frame of the stream (and skip the download next time).
      if ((e as CollectorError).kind === undefined) throw e;
      if (/byte cap/.test((e as Error).message)) t.snapshotUnfit = true;
    }
  }
  const chosen = s.rtsp_url ?? (s.stream === 'main' ? o.onvif?.mainStreamUri : o.onvif?.streamUri);
  if (!chosen || ffmpegMissing || !o.probe?.up) return null;
  const jpeg = await grabThumbnail(withCredentials(chosen, t.onvif?.username, t.onvif?.password), {
    maxWidth: s.thumbnail_max_width,
    maxBytes: s.thumbnail_max_bytes,
    transport: s.transport,
    signal,
  });
  const size = jpegSize(jpeg);
  return { jpeg, ...(size ? { width: size.width } : {}) };
}

export { setCameraClock };
