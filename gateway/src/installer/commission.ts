// Commissioning: the day-one record of a site. Every configured device is read once through the
// daemon's own collectors — radios' rx power per chain, SNR, noise, CCQ and capacity (both ends of a
// link when both radios are in this site's config, paired by MAC address), a picture of each
// monitoring point, each terminal's and camera's clock — and the result is kept on the box as JSON and
// printable HTML and sent to the central (QoS 1, `…/commissioning`), which keeps it.

import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectModbus, ModbusPool } from '@pantau/collectors/modbus';
import { grabThumbnail, jpegSize } from '@pantau/collectors/rtsp';
import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import {
  BASELINE_METRICS,
  type CommissionedDevice,
  type CommissionedLink,
  type CommissioningPayload,
  renderCommissioningHtml,
} from '@pantau/contract';
import {
  type CameraObservation,
  type CameraTarget,
  cameraTarget,
  observeCamera,
  takeThumbnail,
  withCredentials,
} from '../camera.js';
import type { DeviceConfig, GatewayConfig } from '../config.js';
import { snmpSessionOptions } from '../remote-hands.js';
import { testDevice } from '../scan/test-device.js';
import { VERSION } from '../version.js';

/** Commissioning pictures: enough to recognise the view on paper, small enough that several fit one message. */
const THUMB_WIDTH = 240;
const THUMB_BYTES = 24_000;
/** Room left in one MQTT message for everything but the pictures. */
const ENVELOPE_BYTES = 32 * 1024;

const say = (ok: boolean, id: string, en: string) => ({ ok, id, en });

/** A commissioning request that cannot be done as asked (an unknown radio, …). */
export class CommissionError extends Error {}

function describe(d: DeviceConfig): Omit<CommissionedDevice, 'ok' | 'notes'> {
  return {
    id: d.id,
    kind: d.kind,
    address: d.address,
    ...(d.name ? { name: d.name } : {}),
    ...(d.location ? { location: d.location } : {}),
    ...(d.priority ? { priority: d.priority } : {}),
  };
}

async function commissionSnmp(cfg: GatewayConfig, d: DeviceConfig): Promise<CommissionedDevice> {
  const session = new SnmpSession(snmpSessionOptions(d, cfg)!);
  try {
    const r = await collectSnmp(session, newSnmpMemory());
    const id = r.identity ?? {};
    // Interface traffic rows say nothing about the link on day one: keep the radio figures.
    const readings = r.readings.filter((x) => !x.labels?.iface);
    const first = readings[0]?.values ?? {};
    const notes = [
      say(
        true,
        `Terbaca: ${id.vendor ?? '?'} ${id.model ?? ''}`,
        `Read: ${id.vendor ?? '?'} ${id.model ?? ''}`,
      ),
      ...(r.notices ?? []).map((n) => say(false, n.id, n.en)),
    ];
    if (
      d.kind === 'radio' &&
      first.rx_power_dbm === undefined &&
      readings.every((x) => x.values.rx_power_dbm === undefined)
    )
      notes.push(say(false, 'Tidak ada daya terima: link belum terhubung?', 'No rx power: is the link up?'));
    return {
      ...describe(d),
      ok: !notes.some((n) => !n.ok),
      notes,
      identity: {
        ...(id.vendor ? { vendor: id.vendor } : {}),
        ...(id.model ? { model: id.model } : {}),
        ...(id.firmware ? { firmware: id.firmware } : {}),
        ...(id.serial ? { serial: id.serial } : {}),
        ...(id.profile ? { profile: id.profile } : {}),
      },
      readings,
      ...(id.macs?.length ? { macs: id.macs } : {}),
      ...(r.peers?.length ? { peers: r.peers } : {}),
    };
  } catch (e) {
    const m = (e as Error).message;
    return {
      ...describe(d),
      ok: false,
      notes: [say(false, `Tidak terbaca: ${m}`, `Could not be read: ${m}`)],
    };
  } finally {
    session.close();
  }
}

async function streamFrame(
  target: CameraTarget,
  o: CameraObservation,
  signal: AbortSignal,
): Promise<{ jpeg: Buffer; width?: number } | null> {
  const s = target.settings;
  const url = s.rtsp_url ?? (s.stream === 'main' ? o.onvif?.mainStreamUri : o.onvif?.streamUri);
  if (!url) return null;
  try {
    const jpeg = await grabThumbnail(withCredentials(url, target.onvif?.username, target.onvif?.password), {
      maxWidth: THUMB_WIDTH,
      maxBytes: THUMB_BYTES,
      transport: s.transport,
      signal,
    });
    const size = jpegSize(jpeg);
    return { jpeg, ...(size ? { width: size.width } : {}) };
  } catch {
    return null;
  }
}

async function commissionCamera(cfg: GatewayConfig, d: DeviceConfig): Promise<CommissionedDevice> {
  const target = cameraTarget(
    d,
    cfg.cameraPasswords.get(d.id),
    d.timeout_ms ?? Math.max(5000, cfg.defaults.timeout_ms),
  );
  target.settings = {
    ...target.settings,
    thumbnail_max_width: THUMB_WIDTH,
    thumbnail_max_bytes: THUMB_BYTES,
  };
  const signal = AbortSignal.timeout(60_000);
  const notes: CommissionedDevice['notes'] = [];
  const out: CommissionedDevice = { ...describe(d), ok: false, notes };
  try {
    const o = await observeCamera(target, signal, null);
    const id = o.onvif?.identity;
    if (id) {
      out.identity = { vendor: id.manufacturer, model: id.model, firmware: id.firmware, serial: id.serial };
      notes.push(say(true, `ONVIF: ${id.manufacturer} ${id.model}`, `ONVIF: ${id.manufacturer} ${id.model}`));
    } else if (o.onvif)
      notes.push(
        say(
          false,
          `ONVIF: ${o.onvif.state} ${o.onvif.error?.message ?? ''}`,
          `ONVIF: ${o.onvif.state} ${o.onvif.error?.message ?? ''}`,
        ),
      );
    if (o.onvif?.clock) {
      out.clock_offset_s = Math.round(o.onvif.clock.offset_ms / 100) / 10;
      const good = Math.abs(out.clock_offset_s) < target.settings.clock_warn_s;
      notes.push(
        say(good, `Jam kamera selisih ${out.clock_offset_s} s`, `Camera clock ${out.clock_offset_s} s off`),
      );
    }
    if (o.probe?.up) {
      const v = o.probe.video;
      notes.push(
        say(
          o.probe.frames.advancing && !o.probe.frozen.detected && !o.probe.black.detected,
          `Video: ${v?.codec ?? '?'} ${v?.width ?? '?'}x${v?.height ?? '?'}, ${o.probe.frames.fps ?? '?'} fps${o.probe.frozen.detected ? ', BEKU' : ''}${o.probe.black.detected ? ', HITAM' : ''}`,
          `Video: ${v?.codec ?? '?'} ${v?.width ?? '?'}x${v?.height ?? '?'}, ${o.probe.frames.fps ?? '?'} fps${o.probe.frozen.detected ? ', FROZEN' : ''}${o.probe.black.detected ? ', BLACK' : ''}`,
        ),
      );
      // A frame of the stream the site box watches (what the control room will see); the camera's
      // own snapshot only when ffmpeg cannot take one.
      const t =
        (await streamFrame(target, o, signal)) ??
        (await takeThumbnail(target, o, null, signal).catch(() => null));
      if (t)
        out.thumbnail = {
          mime: 'image/jpeg',
          data: t.jpeg.toString('base64'),
          ...(t.width ? { width: t.width } : {}),
        };
      else notes.push(say(false, 'Gambar tidak bisa diambil', 'No picture could be taken'));
    } else
      notes.push(
        say(
          false,
          `Video mati: ${o.probe?.error?.message ?? o.probeSkipped?.id ?? ''}`,
          `Video down: ${o.probe?.error?.message ?? o.probeSkipped?.en ?? ''}`,
        ),
      );
  } catch (e) {
    notes.push(say(false, `Gagal: ${(e as Error).message}`, `Failed: ${(e as Error).message}`));
  }
  out.ok = notes.length > 0 && notes.every((n) => n.ok);
  return out;
}

async function commissionTerminal(cfg: GatewayConfig, d: DeviceConfig): Promise<CommissionedDevice> {
  const key = cfg.commKeys.get(d.id);
  const r = await testDevice({
    address: d.address,
    kind: 'terminal',
    access: { zk: { port: d.zk?.port ?? 4370, transport: d.zk?.transport ?? 'tcp' } },
    timeZone: cfg.site.timezone,
    timeoutMs: d.timeout_ms ?? 5000,
    ...(key !== undefined ? { zkCommKey: key } : {}),
  });
  return {
    ...describe(d),
    ok: r.ok && r.lines.every((l) => l.ok),
    notes: r.lines,
    ...(r.identity ? { identity: r.identity } : {}),
    ...(r.clock_offset_s !== undefined ? { clock_offset_s: Math.round(r.clock_offset_s * 10) / 10 } : {}),
  };
}

async function commissionModbus(cfg: GatewayConfig, d: DeviceConfig): Promise<CommissionedDevice> {
  const m = d.modbus!;
  const map = cfg.registerMaps.get(d.id);
  if (!map)
    return { ...describe(d), ok: false, notes: [say(false, 'Peta register tidak ada', 'No register map')] };
  const pool = new ModbusPool();
  try {
    const r = await collectModbus(
      {
        transport: m.transport,
        ...(m.transport === 'tcp'
          ? { host: d.address, port: m.port }
          : { path: m.path!, baudRate: m.baud_rate }),
        unitId: m.unit_id,
        timeoutMs: d.timeout_ms ?? cfg.defaults.timeout_ms,
      },
      map,
      { pool },
    );
    return {
      ...describe(d),
      ok: true,
      notes: [say(true, `Terbaca (${map.name})`, `Read (${map.name})`)],
      identity: { ...(map.vendor ? { vendor: map.vendor } : {}), model: map.name, profile: map.id },
      readings: r.readings,
    };
  } catch (e) {
    const msg = (e as Error).message;
    return {
      ...describe(d),
      ok: false,
      notes: [say(false, `Tidak terbaca: ${msg}`, `Could not be read: ${msg}`)],
    };
  } finally {
    pool.close();
  }
}

function commissionDevice(cfg: GatewayConfig, d: DeviceConfig): Promise<CommissionedDevice> {
  if (d.kind === 'camera') return commissionCamera(cfg, d);
  if (d.kind === 'terminal') return commissionTerminal(cfg, d);
  if (d.modbus) return commissionModbus(cfg, d);
  if (d.snmp) return commissionSnmp(cfg, d);
  return Promise.resolve({
    ...describe(d),
    ok: true,
    notes: [say(true, 'Hanya ping: tidak ada nilai awal', 'Ping only: no day-one values')],
  });
}

/** A link's far-end radio at another site, reachable by SNMP from this box (through the link). */
export interface FarEnd {
  /** The id of this site's radio at the near end. */
  of: string;
  address: string;
  community: string;
  version?: '1' | '2c';
  port?: number;
}

/** "10.9.9.2" or "10.9.9.2:1161" → address and SNMP port (161 when none is given). */
export function farAddress(s: string): { address: string; port: number } | null {
  const m = /^([^\s:]+)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m) return null;
  const port = m[2] ? Number(m[2]) : 161;
  return port >= 1 && port <= 65535 ? { address: m[1]!, port } : null;
}

/** Reads a far-end radio as if it were one of this site's devices (it is not added to site.yaml). */
async function commissionFarEnd(cfg: GatewayConfig, f: FarEnd): Promise<CommissionedDevice> {
  const near = cfg.devices.find((d) => d.id === f.of);
  const d: DeviceConfig = {
    id: `${f.of}-far`,
    name: `${near?.name ?? f.of} — ujung jauh / far end`,
    kind: 'radio',
    address: f.address,
    snmp: { version: f.version ?? '2c', community: f.community, port: f.port ?? 161 },
  };
  return { ...(await commissionSnmp(cfg, d)), far_end_of: f.of };
}

/** Links both of whose radios are here: one end's peers name a MAC of the other. */
export function pairLinks(devices: CommissionedDevice[]): CommissionedLink[] {
  const links: CommissionedLink[] = [];
  const radios = devices.filter((d) => d.kind === 'radio' && d.macs?.length);
  for (let i = 0; i < radios.length; i++)
    for (let j = i + 1; j < radios.length; j++) {
      const a = radios[i]!;
      const b = radios[j]!;
      const sees = (x: CommissionedDevice, y: CommissionedDevice) =>
        (x.peers ?? []).some((p) => y.macs!.includes(p));
      if (sees(a, b) || sees(b, a)) links.push({ a: a.id, b: b.id });
    }
  return links;
}

/** A report id a person can read: site and local date-time. */
function reportId(site: string, ts: number): string {
  return `${site}-${new Date(ts).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}`;
}

export async function commissionSite(
  cfg: GatewayConfig,
  o: { by: string; note?: string; now?: () => number; farEnds?: FarEnd[] },
): Promise<CommissioningPayload> {
  const ts = (o.now ?? Date.now)();
  for (const f of o.farEnds ?? [])
    if (cfg.devices.find((d) => d.id === f.of)?.kind !== 'radio')
      throw new CommissionError(`far end of "${f.of}": no radio with that id in site.yaml`);
  const devices: CommissionedDevice[] = [];
  // One device at a time: terminals serve one session, and ffmpeg is the box's heaviest work.
  for (const d of cfg.devices) devices.push(await commissionDevice(cfg, d));
  for (const f of o.farEnds ?? []) devices.push(await commissionFarEnd(cfg, f));
  return {
    v: 1,
    id: reportId(cfg.site.id, ts),
    ts,
    site: cfg.site.id,
    ...(cfg.site.name ? { site_name: cfg.site.name } : {}),
    time_zone: cfg.site.timezone,
    by: o.by,
    ...(o.note ? { note: o.note } : {}),
    gateway_version: VERSION,
    devices,
    links: [
      ...devices.flatMap((d) => (d.far_end_of ? [{ a: d.far_end_of, b: d.id }] : [])),
      ...pairLinks(devices.filter((d) => !d.far_end_of)),
    ],
  };
}

/** The copy for the central: pictures dropped, last first, until the message fits the broker's cap. */
export function fitForCentral(r: CommissioningPayload, maxBytes: number): CommissioningPayload {
  const copy: CommissioningPayload = { ...r, devices: r.devices.map((d) => ({ ...d })) };
  let size = Buffer.byteLength(JSON.stringify(copy));
  let omitted = 0;
  for (let i = copy.devices.length - 1; i >= 0 && size > maxBytes - ENVELOPE_BYTES; i--) {
    const d = copy.devices[i]!;
    if (!d.thumbnail) continue;
    size -= d.thumbnail.data.length;
    delete d.thumbnail;
    omitted++;
  }
  if (omitted) copy.thumbnails_omitted = omitted;
  // Still too big (a site with very many radios): keep only the figures a baseline is about.
  if (size > maxBytes - ENVELOPE_BYTES)
    for (const d of copy.devices)
      if (d.readings)
        d.readings = d.readings.flatMap((r) => {
          const values = Object.fromEntries(
            Object.entries(r.values).filter(([k]) => (BASELINE_METRICS as readonly string[]).includes(k)),
          );
          return Object.keys(values).length ? [{ ...r, values }] : [];
        });
  return copy;
}

/** Whether a report fits one MQTT message under the cap (topic and header included). */
export const fitsCap = (r: CommissioningPayload, maxBytes: number): boolean =>
  Buffer.byteLength(JSON.stringify(r)) + 200 <= maxBytes;

/** Keeps a report on the box: state_dir/commissioning/<id>.json and .html. */
export function saveReport(stateDir: string, r: CommissioningPayload): { json: string; html: string } {
  const dir = join(stateDir, 'commissioning');
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, `${r.id}.json`), html: join(dir, `${r.id}.html`) };
  for (const [file, text] of [
    [files.json, JSON.stringify(r, null, 2)],
    [files.html, renderCommissioningHtml(r)],
  ] as const) {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
  return files;
}

/** Reports kept on the box, newest first. */
export function listReports(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, 'commissioning'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort()
      .reverse();
  } catch {
    return [];
  }
}

export function readReport(stateDir: string, id: string): CommissioningPayload | null {
  if (!/^[a-z0-9-]+$/.test(id)) return null;
  try {
    return JSON.parse(
      readFileSync(join(stateDir, 'commissioning', `${id}.json`), 'utf8'),
    ) as CommissioningPayload;
  } catch {
    return null;
  }
}
