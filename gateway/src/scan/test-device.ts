// "Test this device": one read through the daemon's own collectors, said in plain words — the same
// facts the site box will report once the device is in site.yaml. Cameras: ONVIF, their clock, and a
// short sample of the stream; terminals: identity, clock and memory; radios and power: one poll.

import { collectModbus, ModbusPool, REGISTER_MAPS } from '@pantau/collectors/modbus';
import { collectOnvif } from '@pantau/collectors/onvif';
import { probeStream, type StreamProbe } from '@pantau/collectors/rtsp';
import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import { withTerminalLock, ZkClient } from '@pantau/collectors/zkteco';
import type { Reading } from '@pantau/contract';
import { withCredentials } from '../camera.js';
import type { FoundAccess, FoundKind } from './types.js';

export interface DeviceTestRequest {
  address: string;
  kind: FoundKind;
  access: FoundAccess;
  camera?: { username: string; password: string };
  zkCommKey?: number;
  /** The site's zone: terminals keep wall-clock time without one. */
  timeZone: string;
  /** Seconds of video to sample from a camera. Default 3. */
  sampleS?: number;
  timeoutMs?: number;
}

export interface Line {
  ok: boolean;
  id: string;
  en: string;
}

export interface DeviceTestResult {
  ok: boolean;
  lines: Line[];
  readings?: Reading[];
  /** Device clock minus ours, seconds (cameras and terminals). */
  clock_offset_s?: number;
  identity?: { vendor?: string; model?: string; firmware?: string; serial?: string; profile?: string };
  stream?: StreamProbe;
  /** A camera's stream address (credentials not included). */
  stream_uri?: string;
}

const say = (ok: boolean, id: string, en: string): Line => ({ ok, id, en });
const secs = (s: number) => `${Math.round(s * 10) / 10} s`;

async function testSnmp(r: DeviceTestRequest): Promise<DeviceTestResult> {
  const a = r.access.snmp!;
  const session = new SnmpSession({
    address: r.address,
    port: a.port,
    version: a.version,
    community: a.community,
    timeoutMs: r.timeoutMs ?? 2000,
    retries: 1,
  });
  try {
    const res = await collectSnmp(session, newSnmpMemory());
    const id = res.identity ?? {};
    const figures = Object.keys(res.readings[0]?.values ?? {}).length;
    return {
      ok: true,
      lines: [
        say(
          true,
          `SNMP menjawab: ${id.vendor ?? '?'} ${id.model ?? ''}`,
          `SNMP answers: ${id.vendor ?? '?'} ${id.model ?? ''}`,
        ),
        say(
          true,
          `${figures} angka terbaca, ${res.readings.length} baris`,
          `${figures} figures read, ${res.readings.length} rows`,
        ),
        ...(res.notices ?? []).map((n) => say(false, n.id, n.en)),
      ],
      readings: res.readings,
      identity: {
        ...(id.vendor ? { vendor: id.vendor } : {}),
        ...(id.model ? { model: id.model } : {}),
        ...(id.firmware ? { firmware: id.firmware } : {}),
        ...(id.profile ? { profile: id.profile } : {}),
      },
    };
  } catch (e) {
    const m = (e as Error).message;
    return { ok: false, lines: [say(false, `SNMP gagal: ${m}`, `SNMP failed: ${m}`)] };
  } finally {
    session.close();
  }
}

async function testCamera(r: DeviceTestRequest): Promise<DeviceTestResult> {
  const a = r.access.onvif!;
  const cred = r.camera ?? { username: '', password: '' };
  const onvif = await collectOnvif({
    address: r.address,
    port: a.port,
    path: a.path,
    username: cred.username,
    password: cred.password,
    timeoutMs: r.timeoutMs ?? 5000,
  });
  const lines: Line[] = [];
  const out: DeviceTestResult = { ok: onvif.state === 'UpWithAuth', lines };
  if (onvif.state === 'UpWithAuth' && onvif.identity) {
    const i = onvif.identity;
    lines.push(
      say(
        true,
        `ONVIF menjawab: ${i.manufacturer} ${i.model} ${i.firmware}`,
        `ONVIF answers: ${i.manufacturer} ${i.model} ${i.firmware}`,
      ),
    );
    out.identity = { vendor: i.manufacturer, model: i.model, firmware: i.firmware, serial: i.serial };
  } else
    lines.push(
      say(
        false,
        `ONVIF: ${onvif.state} — ${onvif.error?.message ?? ''}`,
        `ONVIF: ${onvif.state} — ${onvif.error?.message ?? ''}`,
      ),
    );
  if (onvif.clock) {
    out.clock_offset_s = onvif.clock.offset_ms / 1000;
    const off = secs(out.clock_offset_s);
    const good = Math.abs(out.clock_offset_s) < 30;
    lines.push(say(good, `Jam kamera selisih ${off} dari gateway`, `Camera clock is ${off} off this box`));
  }
  if (!onvif.streamUri) {
    if (onvif.state === 'UpWithAuth')
      lines.push(say(false, 'Kamera tidak memberi alamat stream', 'The camera gave no stream address'));
    return out;
  }
  out.stream_uri = onvif.streamUri;
  let stream: StreamProbe | null;
  try {
    stream = await probeStream(withCredentials(onvif.streamUri, cred.username, cred.password), {
      sampleS: r.sampleS ?? 3,
    });
  } catch {
    stream = null; // no ffmpeg, or an address it refuses
  }
  if (!stream) {
    lines.push(
      say(false, 'Stream tidak bisa diperiksa (ffmpeg?)', 'The stream could not be checked (ffmpeg?)'),
    );
    out.ok = false;
    return out;
  }
  out.stream = stream;
  if (stream.up) {
    const v = stream.video;
    const desc = `${v?.codec ?? '?'} ${v?.width ?? '?'}x${v?.height ?? '?'} ${stream.frames.fps ?? v?.fps ?? '?'} fps`;
    lines.push(say(true, `Stream jalan: ${desc}`, `Stream up: ${desc}`));
    if (!stream.frames.advancing) lines.push(say(false, 'Gambar tidak bergerak', 'Frames are not advancing'));
    if (stream.frozen.detected) lines.push(say(false, 'Gambar beku', 'Picture frozen'));
    if (stream.black.detected) lines.push(say(false, 'Gambar hitam', 'Picture black'));
  } else {
    out.ok = false;
    lines.push(
      say(
        false,
        `Stream mati: ${stream.error?.message ?? ''}`,
        `Stream down: ${stream.error?.message ?? ''}`,
      ),
    );
  }
  return out;
}

async function testTerminal(r: DeviceTestRequest): Promise<DeviceTestResult> {
  const a = r.access.zk!;
  return withTerminalLock(`${r.address}:${a.port}`, async () => {
    const client = new ZkClient({
      host: r.address,
      port: a.port,
      transport: a.transport,
      timeoutMs: r.timeoutMs ?? 5000,
      ...(r.zkCommKey !== undefined ? { commKey: r.zkCommKey } : {}),
    });
    try {
      await client.connect();
      const info = await client.deviceInfo();
      const offset = await client.clockOffset(r.timeZone);
      const sizes = await client.freeSizes();
      const fill =
        sizes.records_capacity > 0 ? Math.round((sizes.records / sizes.records_capacity) * 100) : 0;
      return {
        ok: true,
        clock_offset_s: offset,
        identity: {
          vendor: 'ZKTeco',
          model: info.name || info.platform,
          firmware: info.firmware,
          serial: info.serial,
        },
        lines: [
          say(
            true,
            `Terminal menjawab: ${info.name} ${info.firmware} (seri ${info.serial})`,
            `Terminal answers: ${info.name} ${info.firmware} (serial ${info.serial})`,
          ),
          say(
            Math.abs(offset) < 60,
            `Jam terminal selisih ${secs(offset)}`,
            `Terminal clock is ${secs(offset)} off`,
          ),
          say(
            fill < 80,
            `Memori absensi terisi ${fill}% (${sizes.records} catatan)`,
            `Attendance memory ${fill}% full (${sizes.records} records)`,
          ),
        ],
      };
    } catch (e) {
      const m = (e as Error).message;
      return { ok: false, lines: [say(false, `Terminal gagal: ${m}`, `Terminal failed: ${m}`)] };
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  });
}

async function testModbus(r: DeviceTestRequest): Promise<DeviceTestResult> {
  const a = r.access.modbus!;
  const map = REGISTER_MAPS[a.map];
  if (!map)
    return {
      ok: false,
      lines: [say(false, `Peta register ${a.map} tidak dikenal`, `Unknown register map ${a.map}`)],
    };
  const pool = new ModbusPool();
  try {
    const res = await collectModbus(
      { transport: 'tcp', host: r.address, port: a.port, unitId: a.unit_id, timeoutMs: r.timeoutMs ?? 2000 },
      map,
      { pool },
    );
    const v = res.readings[0]?.values ?? {};
    return {
      ok: true,
      readings: res.readings,
      identity: { ...(map.vendor ? { vendor: map.vendor } : {}), model: map.name, profile: map.id },
      lines: [
        say(
          true,
          `Modbus menjawab (${map.name}), ${Object.keys(v).length} angka terbaca`,
          `Modbus answers (${map.name}), ${Object.keys(v).length} figures read`,
        ),
      ],
    };
  } catch (e) {
    const m = (e as Error).message;
    return { ok: false, lines: [say(false, `Modbus gagal: ${m}`, `Modbus failed: ${m}`)] };
  } finally {
    pool.close();
  }
}

export function testDevice(r: DeviceTestRequest): Promise<DeviceTestResult> {
  if (r.access.onvif) return testCamera(r);
  if (r.access.zk) return testTerminal(r);
  if (r.access.modbus) return testModbus(r);
  if (r.access.snmp) return testSnmp(r);
  return Promise.resolve({
    ok: false,
    lines: [say(false, 'Tidak tahu cara membaca perangkat ini', 'No way to read this device given')],
  });
}
