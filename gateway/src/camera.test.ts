import type { OnvifResult } from '@pantau/collectors/onvif';
import type { StreamProbe } from '@pantau/collectors/rtsp';
import { describe, expect, it } from 'vitest';
import { type CameraObservation, judgeCamera, newCameraMemory, withCredentials } from './camera.js';

const CFG = { clock_warn_s: 30, confirm_polls: 2 };
const onvif = (over: Partial<OnvifResult> = {}): OnvifResult => ({
  state: 'UpWithAuth',
  profiles: [],
  clock: { camera_utc_ms: 0, offset_ms: 400 },
  elapsed_ms: 20,
  ...over,
});
const probe = (over: Partial<StreamProbe> = {}): StreamProbe => ({
  up: true,
  video: { codec: 'h264', width: 640, height: 360, fps: 15, bitrate_bps: 400_000 },
  frames: { count: 60, advancing: true, duration_s: 4, fps: 15 },
  frozen: { detected: false },
  black: { detected: false },
  elapsed_ms: 4100,
  queued_ms: 0,
  ...over,
});
const at = (ts: number, o: Partial<CameraObservation>): CameraObservation => ({
  ts,
  onvif: onvif(),
  probe: probe(),
  ...o,
});

describe('camera judgement', () => {
  it('a live picture is ok, with its figures as a reading', () => {
    const mem = newCameraMemory();
    const j = judgeCamera(at(1000, {}), mem, CFG, 'Pasar');
    expect(j.status).toBe('ok');
    expect(j.camera).toMatchObject({
      onvif: 'UpWithAuth',
      stream: 'up',
      frozen: false,
      black: false,
      last_good_frame: 1000,
    });
    expect(j.readings[0]!.values).toEqual({
      stream_up: 1,
      video_frozen: 0,
      video_black: 0,
      video_fps: 15,
      video_bitrate_bps: 400_000,
      video_width_px: 640,
      video_height_px: 360,
      clock_offset_s: 0.4,
    });
    expect(j.events).toEqual([]);
  });

  it('frozen is reported after two probes agree, once, and cleared the same way', () => {
    const mem = newCameraMemory();
    const frozen = probe({ frozen: { detected: true, since_s: 0, duration_s: 4, ongoing: true } });
    const first = judgeCamera(at(1, { probe: frozen }), mem, CFG, 'Pasar');
    expect(first.events).toEqual([]);
    expect(first.camera.frozen).toBe(false);
    const second = judgeCamera(at(2, { probe: frozen }), mem, CFG, 'Pasar');
    expect(second.events.map((e) => e.type)).toEqual(['camera_frozen']);
    expect(second.status).toBe('degraded');
    expect(second.reasons[0]!.id).toBe('Gambar beku: bingkai tidak berubah');
    expect(judgeCamera(at(3, { probe: frozen }), mem, CFG, 'Pasar').events).toEqual([]);
    // The last good frame stays where it was while frozen.
    expect(second.camera.last_good_frame).toBeNull();
    judgeCamera(at(4, {}), mem, CFG, 'Pasar');
    expect(judgeCamera(at(5, {}), mem, CFG, 'Pasar').events.map((e) => e.type)).toEqual(['camera_unfrozen']);
  });

  it('a black picture (which never changes either) is black, not frozen', () => {
    const mem = newCameraMemory();
    const black = probe({ black: { detected: true, ratio: 1 }, frozen: { detected: true, ongoing: true } });
    judgeCamera(at(1, { probe: black }), mem, CFG, 'Terminal');
    const j = judgeCamera(at(2, { probe: black }), mem, CFG, 'Terminal');
    expect(j.events.map((e) => e.type)).toEqual(['camera_black']);
    expect(j.camera).toMatchObject({ black: true, frozen: false });
    expect(j.readings[0]!.values).toMatchObject({ video_black: 1, video_frozen: 0 });
  });

  it('a dead stream is down after confirmation, naming why, and one event each way', () => {
    const mem = newCameraMemory();
    const dead = probe({ up: false, error: { kind: 'unreachable', message: 'Connection refused' } });
    delete dead.video;
    const one = judgeCamera(at(1, { probe: dead }), mem, CFG, 'PSC');
    expect(one.status).toBe('degraded');
    expect(one.reasons[0]!.code).toBe('stream_unconfirmed');
    const two = judgeCamera(at(2, { probe: dead, onvif: onvif({ state: 'Unreachable' }) }), mem, CFG, 'PSC');
    expect(two.status).toBe('down');
    expect(two.reasons[0]!.en).toBe('Camera unreachable (ONVIF and video silent)');
    expect(two.events.map((e) => `${e.type} ${e.severity}`)).toEqual(['camera_stream_down critical']);
    expect(two.readings[0]!.values).toEqual({ stream_up: 0, clock_offset_s: 0.4 });
    judgeCamera(at(3, {}), mem, CFG, 'PSC');
    const back = judgeCamera(at(4, {}), mem, CFG, 'PSC');
    expect(back.events.map((e) => e.type)).toEqual(['camera_stream_up']);
    expect(back.status).toBe('ok');
  });

  it('wrong ONVIF credentials with a working stream: degraded, says so, one event', () => {
    const mem = newCameraMemory();
    const j = judgeCamera(at(1, { onvif: onvif({ state: 'UpWithoutAuth' }) }), mem, CFG, 'Damkar');
    expect(j.status).toBe('degraded');
    expect(j.reasons.map((r) => r.code)).toEqual(['onvif_auth']);
    expect(j.events.map((e) => e.type)).toEqual(['camera_auth_failed']);
    expect(
      judgeCamera(at(2, { onvif: onvif({ state: 'UpWithoutAuth' }) }), mem, CFG, 'Damkar').events,
    ).toEqual([]);
  });

  it('a camera clock an hour off is drift, with hysteresis', () => {
    const mem = newCameraMemory();
    const off = (s: number) => onvif({ clock: { camera_utc_ms: 0, offset_ms: s * 1000 } });
    const j = judgeCamera(at(1, { onvif: off(3600) }), mem, CFG, 'Kantor Camat');
    expect(j.events[0]).toMatchObject({ type: 'clock_drift', data: { offset_s: 3600 } });
    expect(j.reasons[0]!.id).toBe('Jam kamera selisih +1 jam/h (batas 30 detik)');
    expect(
      judgeCamera(at(2, { onvif: off(20) }), mem, CFG, 'Kantor Camat').reasons.map((r) => r.code),
    ).toEqual(['clock_drift']);
    expect(judgeCamera(at(3, { onvif: off(10) }), mem, CFG, 'Kantor Camat').status).toBe('ok');
  });

  it('no probe possible (ffmpeg missing) says so instead of guessing', () => {
    const notice = { code: 'ffmpeg_missing', id: 'ffmpeg tidak terpasang', en: 'ffmpeg is not installed' };
    const j = judgeCamera(at(1, { probe: null, probeSkipped: notice }), newCameraMemory(), CFG, 'X');
    expect(j.status).toBe('ok');
    expect(j.camera).toMatchObject({ stream: 'unknown', notice });
    expect(j.reasons).toEqual([notice]);
  });

  it('puts the camera credentials into the stream URL only when it has none', () => {
    expect(withCredentials('rtsp://10.0.0.5:554/sub', 'admin', 'p@ss')).toBe(
      'rtsp://admin:p%40ss@10.0.0.5:554/sub',
    );
    expect(withCredentials('rtsp://u:v@10.0.0.5/sub', 'admin', 'x')).toBe('rtsp://u:v@10.0.0.5/sub');
  });
});
