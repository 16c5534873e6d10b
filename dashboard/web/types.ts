// The shapes the API answers with, as far as the page reads them.

export type Lang = 'id' | 'en';
export const ROLES = ['admin', 'engineer', 'operator', 'leadership', 'installer', 'hr'] as const;
export type Role = (typeof ROLES)[number];
export type Status = 'ok' | 'degraded' | 'down' | 'unknown';

export interface Reason {
  code?: string;
  id: string;
  en: string;
}

export interface Me {
  username: string;
  role: Role;
  /** An installer's assigned sites; null for roles that see every site. */
  sites: string[] | null;
  csrf: string;
  language: Lang;
  timezone: string;
}

export interface Figure {
  value: number;
  ts: number;
  age_s: number;
  stale: boolean;
}

export interface ClockStatus {
  synced: boolean;
  source: string;
  plausible?: boolean;
  holding?: boolean;
  last_step_ms?: number;
  last_step_at?: number;
}

export interface SiteRow {
  site: string;
  name: string;
  state: 'online' | 'offline' | 'unknown';
  last_heard: number | null;
  silent: boolean;
  since: number | null;
  version: string | null;
  uptime_s: number | null;
  outbox_depth: number | null;
  clock: ClockStatus | null;
  health: {
    ts: number;
    load1: number;
    mem_rss_bytes: number;
    outbox: { depth: number; oldest_ts: number | null };
    clock?: ClockStatus;
    dropped: number;
    rejected?: number;
    polls: { ok: number; failed: number; timeouts: number; backing_off: number };
  } | null;
  dropped: number | null;
  missing_readings: number;
}

/** GET /api/sites/:site/sequence: what the central received of a site box's sequence numbers. */
export interface SequenceReport {
  site: string;
  first: number | null;
  last: number | null;
  received: number;
  missing: Array<[number, number]>;
  missing_count: number;
  skipped: Array<[number, number]>;
}

export interface DeviceRow {
  site: string;
  device: string;
  name: string;
  kind: string;
  status: Status;
  reasons: Reason[];
  last_seen: number | null;
  stale: boolean;
  interval_s: number;
  figures: Record<string, Figure>;
  vendor: string | null;
  model: string | null;
}

export interface Verdict {
  status: Status;
  cause: string;
  level: number;
  reasons: Reason[];
  a: { rx_dbm?: number; drop_db?: number };
  b: { rx_dbm?: number; drop_db?: number };
  impairment_db: number | null;
  since: number;
}

export interface EndBaseline {
  rx_dbm?: number;
  snr_db?: number;
  capacity_rx_bps?: number;
  capacity_tx_bps?: number;
}
export interface Baseline {
  a?: EndBaseline;
  b?: EndBaseline;
  recorded_at: number;
  recorded_by: string;
}

export interface BackboneSite {
  id: string;
  name: string;
  kecamatan?: string;
  agency?: string;
  coords?: [number, number];
  priority: string;
  site_box: boolean;
  upstream: string | null;
  behind: number;
}
export interface LinkEnd {
  site: string;
  device?: string;
}
export interface BackboneLink {
  id: string;
  name?: string;
  medium: string;
  a: LinkEnd;
  b: LinkEnd;
  capacity_bps?: number;
  standby: boolean;
  fade?: { warn_db: number; critical_db: number };
  status: Verdict | null;
  status_updated_at: number | null;
  baseline: Baseline | null;
}
export interface BackboneView {
  root: string;
  sites: BackboneSite[];
  links: BackboneLink[];
}

export interface DeviceState {
  ts: number;
  status: Status;
  reasons: Reason[];
  interval_s: number;
  name?: string;
  model?: string;
  figures: Record<string, { value: number; ts: number } | undefined>;
}
export interface LinkCardView extends Omit<BackboneLink, 'a' | 'b'> {
  a: LinkEnd & { site_name: string; device_state: DeviceState | null };
  b: LinkEnd & { site_name: string; device_state: DeviceState | null };
  latency: {
    from_site: string;
    hop: Record<string, string>;
    figures: Record<string, { value: number; ts: number }>;
  } | null;
}

export interface Series {
  labels: Record<string, string>;
  points: Array<[number, number]>;
}

export interface Incident {
  key: string;
  kind: 'link' | 'site' | 'device' | 'weather';
  subject: string;
  severity: 'warning' | 'critical';
  title: Reason;
  affected: { sites: string[]; links: string[]; devices: string[] };
  outage?: { label: 'power' | 'rf' | 'device_hang' | 'unknown'; reason: Reason };
  opened_at: number;
  updated_at: number;
  closed_at: number | null;
  acknowledged: { by: string; at: number } | null;
  notes: Array<{ kind: 'ack' | 'note'; username: string; at: number; text: string }>;
}

export interface UptimeRow {
  id: string;
  name: string;
  sites: number;
  down_ms: number;
  degraded_ms: number;
  availability_pct: number;
  outages: number;
  longest_ms: number;
  down_now: boolean;
}

export interface Summary {
  server_time: number;
  cameras: { active: number; total: number; id: string; en: string };
  links: {
    total: number;
    trouble: Array<{
      id: string;
      name: string;
      status: string;
      cause: string;
      reason: Reason | null;
      since: number;
      updated_at: number;
    }>;
  };
  sites: {
    total: number;
    down: Array<{ site: string; name: string; state: string; last_heard: number | null }>;
  };
  incidents_open: number;
}

export interface UserRow {
  username: string;
  role: Role;
  disabled: boolean;
  sites: string[];
}

export interface AuditRow {
  id: number;
  ts: number;
  user: string;
  role: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  remote: string | null;
}
