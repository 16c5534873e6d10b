// Payloads of contract v1. All timestamps are milliseconds since the Unix epoch, UTC.
// Every payload carries `v: 1` so a central can refuse a payload from a future contract cleanly.

import type { MetricName } from './metrics.js';

export const CONTRACT_VERSION = 1 as const;

export type Status = 'ok' | 'degraded' | 'down' | 'unknown';
export const STATUSES: readonly Status[] = ['ok', 'degraded', 'down', 'unknown'];

/** One reason behind a status: a stable code plus plain-language text in Bahasa Indonesia and English. */
export interface Reason {
  code: string;
  id: string;
  en: string;
}

export type DeviceKind = 'radio' | 'camera' | 'terminal' | 'power' | 'host';

/**
 * No reading is taken before this: a time earlier than 2025 means a clock that was never set since
 * boot (a site box without a real-time clock starts in 1970). The central keeps such readings out of
 * history; the site box holds them back and corrects them when its clock is set.
 */
export const EARLIEST_PLAUSIBLE_TS = Date.UTC(2025, 0, 1);

/** How the site box knows the time: an unsynchronised clock makes every timestamp suspect. */
export interface ClockStatus {
  synced: boolean;
  /** e.g. "ntp", "rtc", "none" */
  source: string;
  /** The time is after EARLIEST_PLAUSIBLE_TS. */
  plausible?: boolean;
  /** Readings are held in the outbox until the clock is set (or the wait runs out). */
  holding?: boolean;
  /** The last time the clock was set while the daemon ran: by how much, and when. */
  last_step_ms?: number;
  last_step_at?: number;
}

/** `…/gateway/state`, retained. `offline` is the MQTT last will. */
export interface GatewayStatePayload {
  v: 1;
  state: 'online' | 'offline';
  ts: number;
  site: string;
  version?: string;
  /** When this daemon process started. */
  started_at?: number;
  uptime_s?: number;
  outbox_depth?: number;
  clock?: ClockStatus;
  /** Human place name of the site, e.g. "RSUD Latemmamala". */
  name?: string;
  /**
   * The first sequence number this process hands out. Numbers between the last one the central saw
   * from the previous run and this one were reserved but never used (a restart): skipped, not lost.
   */
  seq_first?: number;
  /**
   * The highest sequence number the site box had durably written (to its outbox) before this process
   * started. Numbers from the one after it to seq_first − 1 were never written: reserved but unused,
   * or — after an unclean restart — taken in the last commit window before a power cut. Numbers up to
   * it that never arrive were lost on the way (or dropped by the outbox bounds, reported as events).
   */
  seq_committed?: number;
  /**
   * Where this run's numbers come from: `saved` (the number the previous run saved), `clock` (a box
   * without a saved number starts at the wall clock in ms, above anything an earlier box of the site
   * used), `unset_clock` (no saved number and the clock not set yet: the numbers may clash with an
   * earlier box's until the clock is set and the numbering jumps to it).
   */
  seq_origin?: 'saved' | 'clock' | 'unset_clock';
  /**
   * [last number before, first number after]: this run's numbering jumped to the wall clock once it
   * was set. The numbers in between were never used (skipped, not lost).
   */
  seq_jump?: [number, number];
  /** The previous run ended without closing its outbox: a power cut, kill -9 or crash. */
  unclean_restart?: boolean;
}

export interface PollStats {
  ok: number;
  failed: number;
  timeouts: number;
  /** Devices currently being backed off because they did not answer. */
  backing_off: number;
}

/** `…/gateway/health`, periodic, not retained. */
export interface GatewayHealthPayload {
  v: 1;
  ts: number;
  uptime_s: number;
  load1: number;
  mem_rss_bytes: number;
  mem_free_bytes: number;
  polls: PollStats;
  outbox: { depth: number; oldest_ts: number | null };
  clock?: ClockStatus;
  dropped: number;
  /** Messages set aside because the central would not take them (too big, or refused each time). */
  rejected?: number;
  seq: number;
}

/** `…/{device}/state`, retained. The key figures let a late dashboard draw a table without history. */
export interface DeviceStatePayload {
  v: 1;
  ts: number;
  device: string;
  kind: DeviceKind;
  /** Place name given by the installer, e.g. "Pemancar RSUD → SCC". */
  name?: string;
  address: string;
  status: Status;
  reasons: Reason[];
  /** Last time the device answered; null if it never did since the gateway started. */
  last_seen: number | null;
  /** Poll interval: a value older than 3 intervals is stale. */
  interval_s: number;
  /** Latest value of each key figure with the time it was read. */
  figures: Partial<Record<MetricName, { value: number; ts: number }>>;
  vendor?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  /** The device's own interface MAC addresses (lowercase, colon-separated). */
  macs?: string[];
  /** MAC addresses of the radios this one is connected to (station/registration tables): pairs link ends. */
  peers?: string[];
  /** Cameras only. */
  camera?: CameraStatus;
  /** Attendance terminals only. */
  terminal?: TerminalStatus;
}

/** What ONVIF says of a camera: answering with our credentials, refusing them, silent, or gone. */
export type OnvifState = 'UpWithAuth' | 'UpWithoutAuth' | 'Reachable' | 'Unreachable';

/** A camera's separate facts: reachable, authenticated, streaming, frames advancing, not frozen, not black. */
export interface CameraStatus {
  /** null when the camera has no ONVIF configured. */
  onvif: OnvifState | null;
  stream: 'up' | 'down' | 'unknown';
  /** Why the stream is down, in plain words (e.g. "RTSP 401: wrong credentials"). */
  stream_error?: string;
  codec?: string;
  width?: number;
  height?: number;
  fps?: number;
  frozen: boolean;
  black: boolean;
  /** Last time a probe saw frames advancing, not frozen and not black. */
  last_good_frame: number | null;
  /** When the current thumbnail was taken. */
  thumbnail_ts?: number | null;
  /** The camera's clock minus the site box's (s); a wrong camera clock makes its recordings useless as evidence. */
  clock_offset_s?: number;
  /** What the site box cannot do here (e.g. ffmpeg missing). */
  notice?: Reason;
}

/** An attendance terminal's health: reachable, clock right, memory not about to fill, punches arriving. */
export interface TerminalStatus {
  /** up; busy (another session held it); hung (accepted, then stopped answering: memory full?); unreachable; auth (comm key refused). */
  state: 'up' | 'busy' | 'hung' | 'unreachable' | 'auth';
  /** Terminal clock (read as the site's local time) minus true time, s. */
  clock_offset_s?: number;
  fill?: {
    records: number;
    records_capacity: number;
    records_pct: number;
    users: number;
    users_capacity: number;
    fingerprints: number;
    fingerprints_capacity: number;
  };
  /** The newest punch seen (ms since epoch, the terminal's local time placed in the site's zone). */
  last_punch: { ts: number; user_id: string; punch: number } | null;
  /** Punches read since the previous look. */
  new_punches?: number;
  /** The site's IANA time zone the terminal's wall clock is read in. */
  time_zone: string;
}

/** `…/{device}/thumbnail`, retained, QoS 0: the latest picture of a camera, size-capped. */
export interface ThumbnailPayload {
  v: 1;
  ts: number;
  device: string;
  mime: 'image/jpeg';
  width?: number;
  /** Base64 of the JPEG. */
  data: string;
}

/** One device as commissioning found it: who it is and its day-one figures. */
export interface CommissionedDevice {
  id: string;
  name?: string;
  location?: string;
  priority?: 'emergency' | 'basic' | 'normal';
  kind: DeviceKind;
  address: string;
  ok: boolean;
  /** What went wrong or what to look at, in both languages. */
  notes: Array<{ ok: boolean; id: string; en: string }>;
  identity?: { vendor?: string; model?: string; firmware?: string; serial?: string; profile?: string };
  /** Radios: the readings of one poll (rx power per chain, SNR, noise, CCQ, capacity …). */
  readings?: Reading[];
  /** Cameras and terminals: device clock minus the site box's, seconds. */
  clock_offset_s?: number;
  /** Cameras: a small JPEG of the monitoring point, base64. */
  thumbnail?: { mime: 'image/jpeg'; width?: number; data: string };
  /** Radios: MAC addresses of its own interfaces and of its peers (to pair the two ends of a link). */
  macs?: string[];
  peers?: string[];
  /** A far-end radio read through the link for this one: the id of this site's radio. */
  far_end_of?: string;
}

/** A radio link both of whose ends this site box could read, paired by MAC address. */
export interface CommissionedLink {
  a: string;
  b: string;
}

/** `…/commissioning`, QoS 1: the commissioning report of a site, kept by the central. */
export interface CommissioningPayload {
  v: 1;
  id: string;
  ts: number;
  site: string;
  site_name?: string;
  time_zone: string;
  by: string;
  note?: string;
  gateway_version: string;
  devices: CommissionedDevice[];
  links: CommissionedLink[];
  /** Thumbnails left out to keep the message under the broker's size cap. */
  thumbnails_omitted?: number;
}

/** One reading: metrics read together at one instant, optionally scoped by labels (interface, chain). */
export interface Reading {
  ts: number;
  values: Partial<Record<MetricName, number>>;
  labels?: Record<string, string>;
}

/** `…/{device}/telemetry`, QoS 1. */
export interface TelemetryPayload {
  v: 1;
  /** Per-gateway sequence number, strictly increasing across restarts: lets the central prove nothing was lost. */
  seq: number;
  device: string;
  /** True when the batch is replayed from the outbox after an outage. */
  backfill: boolean;
  readings: Reading[];
  /** The site box's clock was set after these readings were taken: their times were moved by this (ms). */
  clock_corrected_ms?: number;
}

export type EventType =
  | 'gateway_started'
  | 'device_rebooted'
  | 'device_unreachable'
  | 'device_reachable'
  | 'link_flap'
  | 'camera_frozen'
  | 'camera_unfrozen'
  | 'camera_black'
  | 'camera_picture_ok'
  | 'camera_stream_down'
  | 'camera_stream_up'
  | 'camera_auth_failed'
  | 'clock_drift'
  | 'clock_synced'
  | 'outbox_dropped'
  | 'outbox_rejected'
  | 'gateway_clock_set'
  | 'gateway_clock_unset'
  | 'terminal_hung'
  | 'terminal_memory_high'
  | 'attendance_silent'
  | 'power_lost'
  | 'power_restored'
  | 'config_applied'
  | 'config_rolled_back';

/** `…/events`, QoS 1. */
export interface EventPayload {
  v: 1;
  seq: number;
  ts: number;
  type: EventType;
  device?: string;
  severity: 'info' | 'warning' | 'critical';
  message: { id: string; en: string };
  data?: Record<string, unknown>;
  backfill?: boolean;
  /** As in TelemetryPayload: the event's time was corrected by this (ms) after the clock was set. */
  clock_corrected_ms?: number;
}

/** `…/request/{op}`: central → site. The answer echoes `id` on `…/response/{op}`. */
export interface RequestPayload {
  v: 1;
  id: string;
  ts: number;
  args?: Record<string, unknown>;
}

export interface ResponsePayload {
  v: 1;
  id: string;
  ts: number;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

export type Payload =
  | ThumbnailPayload
  | CommissioningPayload
  | GatewayStatePayload
  | GatewayHealthPayload
  | DeviceStatePayload
  | TelemetryPayload
  | EventPayload
  | RequestPayload
  | ResponsePayload;

export function encode(p: Payload): Buffer {
  return Buffer.from(JSON.stringify(p));
}

export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** Parses a payload body into an object of contract v1; throws PayloadError with a reason otherwise. */
export function decode(body: Buffer | string): Record<string, unknown> & { v: 1 } {
  let obj: unknown;
  try {
    obj = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw new PayloadError('payload is not JSON');
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new PayloadError('payload is not an object');
  const v = (obj as { v?: unknown }).v;
  if (v !== CONTRACT_VERSION) throw new PayloadError(`unsupported contract version ${JSON.stringify(v)}`);
  return obj as Record<string, unknown> & { v: 1 };
}

/** A stale value is older than this many poll intervals. */
export const STALE_AFTER_INTERVALS = 3;

export function isStale(ts: number | null, intervalS: number, now: number): boolean {
  return ts === null || now - ts > STALE_AFTER_INTERVALS * intervalS * 1000;
}
