import type {
  DeviceStatePayload,
  EventPayload,
  GatewayHealthPayload,
  GatewayStatePayload,
  MetricName,
  TelemetryPayload,
} from '@pantau/contract';

/** A site box as the central last heard of it. */
export interface SiteRecord {
  site: string;
  state: GatewayStatePayload | null;
  health: GatewayHealthPayload | null;
  /** When the central last received anything from this site box. */
  last_heard: number | null;
}

export interface DeviceRecord {
  site: string;
  device: string;
  state: DeviceStatePayload;
  received_at: number;
}

export interface EventRecord extends EventPayload {
  site: string;
}

export interface HistoryQuery {
  site: string;
  device: string;
  metric: MetricName;
  from: number;
  to: number;
  /** Only the series with exactly these labels (e.g. { iface: 'eth0' }); all series when absent. */
  labels?: Record<string, string>;
  /** Average into at most this many buckets per series; raw points when the range has fewer. */
  maxPoints?: number;
}

export interface HistorySeries {
  labels: Record<string, string>;
  points: Array<[ts: number, value: number]>;
}

export interface IngestResult {
  /** False when this (site, seq) was already stored: a replay after a lost acknowledgement. */
  accepted: boolean;
  samples: number;
}

/** A telemetry payload the store refused to keep, and why (ingestTelemetryText). */
export interface MalformedTelemetry {
  malformed: string;
}

/** The central's telemetry store: embedded SQLite by default, InfluxDB when configured. */
/** The latest picture of a camera. */
export interface ThumbnailRecord {
  device: string;
  ts: number;
  mime: string;
  data: Buffer;
}

/** What the central received from one site box's sequence: proof that nothing was lost, or where. */
export interface SequenceReport {
  site: string;
  first: number | null;
  last: number | null;
  /** Distinct sequence numbers received (telemetry batches and events). */
  received: number;
  backfilled_batches: number;
  /** Readings stamped before the site box's clock was set (or far in the future): kept out of history. */
  clock_suspect_readings: number;
  /** Numbers never received below the last one, not explained by a restart: readings lost. */
  missing: Array<[number, number]>;
  missing_count: number;
  /** Numbers a restarted site box never used (the rest of its reserved block). */
  skipped: Array<[number, number]>;
}

/**
 * A site box began a run whose first number the central already holds: its readings would be taken
 * for duplicates and dropped (a replaced box whose clock was wrong, a restored old state_dir).
 */
export interface SequenceClash {
  seq_first: number;
  /** The highest number the central holds for the site. */
  held_max: number;
}

export interface Store {
  readonly kind: string;
  ingestTelemetry(site: string, payload: TelemetryPayload, receivedAt: number): Promise<IngestResult>;
  /**
   * Checks (telemetry-check.ts) and stores a telemetry payload as it came off the wire, where the
   * store can do both off the broker's event loop (its writer thread); absent: the caller checks.
   */
  ingestTelemetryText?(
    site: string,
    device: string,
    json: Buffer,
    receivedAt: number,
  ): Promise<IngestResult | MalformedTelemetry>;
  /**
   * As ingestTelemetryText, answered through `done`: the broker's fast lane stores thousands of
   * batches a second, and a promise per batch (with the async functions around it) cost it more.
   * `site` and `device` are the topic's slugs (parseTopic).
   */
  queueTelemetryText?(
    site: string,
    device: string,
    json: Buffer,
    receivedAt: number,
    done: (err: Error | null, result?: IngestResult | MalformedTelemetry) => void,
  ): void;
  /** Keeps a site box's state; from a birth, its skipped numbers, and says when its numbers clash. */
  putGatewayState(
    site: string,
    payload: GatewayStatePayload,
    receivedAt: number,
  ): Promise<SequenceClash | null>;
  putGatewayHealth(site: string, payload: GatewayHealthPayload, receivedAt: number): Promise<void>;
  putDeviceState(site: string, payload: DeviceStatePayload, receivedAt: number): Promise<void>;
  putEvent(site: string, payload: EventPayload, receivedAt: number): Promise<void>;
  putThumbnail(site: string, thumbnail: ThumbnailRecord, receivedAt: number): Promise<void>;
  thumbnail(site: string, device: string): Promise<ThumbnailRecord | null>;
  sequenceReport(site: string): Promise<SequenceReport>;
  listSites(): Promise<SiteRecord[]>;
  listDevices(site?: string): Promise<DeviceRecord[]>;
  listEvents(q: { site?: string; since?: number; limit?: number }): Promise<EventRecord[]>;
  history(q: HistoryQuery): Promise<HistorySeries[]>;
  /** Whether writes go through now (the broker's /healthz); absent: no way to tell. */
  healthy?(): StoreHealth;
  close(): Promise<void>;
}

export interface StoreHealth {
  ok: boolean;
  /** Why not, for /healthz and the journal. */
  reason?: string;
}
