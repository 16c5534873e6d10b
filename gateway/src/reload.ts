// Applying a new site.yaml to a running site box without a restart: check it with the loader the
// box starts with, write it (the running one kept as site.yaml.prev and in a short history), swap
// only the devices that changed, and watch their first polls; when the new config is what broke a
// device, put the previous one back, on disk and in the pollers, and say so.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectorError } from '@pantau/collectors/common';
import { ConfigError, writeFileAtomically } from '@pantau/config';
import type { Logger } from 'pino';
import { type DeviceConfig, type GatewayConfig, parseGatewayConfig } from './config.js';

export interface DeviceChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ApplyResult {
  ok: boolean;
  /** The version asked for (the central's number, or the text's hash). */
  version: string;
  /** The version running before (and again, after a rollback or a refusal). */
  previous: string;
  error?: string;
  rolledBack?: boolean;
  changes: DeviceChanges;
  /** Sections written to site.yaml that only a restart puts into effect. */
  restartNeeded?: string[];
  /** New devices that had not finished a first poll when the check ended (not counted as failure). */
  unconfirmed?: string[];
}

export interface ApplyOptions {
  /** Who asked: a user at the central, `sighup`, `installer` … (history and events). */
  by: string;
  version?: string;
  /** Let the new config change the site id or the box's MQTT login (needs a restart to take effect). */
  allowIdentityChange?: boolean;
  /** How long the first polls of new and changed devices may take; default 30 s. */
  checkWindowMs?: number;
}

/** How a device's polls went since its pollers were (re)started. */
export interface DeviceLook {
  id: string;
  /** Every poller of the device finished at least one poll. */
  done: boolean;
  /** The last failure of each poller whose last poll failed, by its key (`snmp:r1`, `ping:r1` …). */
  errors: Record<string, CollectorError>;
  /** The device answered (last seen set) since its pollers started. */
  answered: boolean;
}

/** How a device was doing just before the change. */
export interface DeviceBefore {
  /** It answered recently (within a few intervals), not just once long ago. */
  answered: boolean;
  /** Its pollers whose last poll succeeded. */
  okJobs: string[];
}

/** What a reload needs from the running daemon. */
export interface ReloadTarget {
  log: Logger;
  config(): GatewayConfig;
  /**
   * Stops removed and changed devices' pollers and starts added and changed ones from `next`,
   * polling them at once; `next` becomes the running config. Throws when a collector cannot start
   * (whatever started is left for the rollback's swap to set right).
   */
  swap(next: GatewayConfig, changes: DeviceChanges): Promise<void>;
  look(ids: string[]): DeviceLook[];
  before(id: string): DeviceBefore;
  event(
    type: 'config_applied' | 'config_rolled_back',
    message: { id: string; en: string },
    data: object,
  ): void;
}

/** Config sections a reload cannot put into effect: they are written, and wait for a restart. */
const RESTART_SECTIONS = [
  'mqtt',
  'state_dir',
  'log_level',
  'concurrency',
  'health_interval_s',
  'outbox',
  'clock',
  'metrics',
  // The installer page starts with the daemon (installer/server.ts).
  'installer',
] as const;

const HISTORY_DIR = 'config-history';
const HISTORY_KEEP = 20;
const POLL_MS = 200;

export const hashText = (text: string): string =>
  createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * A device's config as its pollers see it: its own block, the defaults it inherits, the files its
 * block names (read by the loader) and, for a terminal, the site's zone and hours. Two configs
 * with the same key poll the device the same way.
 */
function deviceKey(d: DeviceConfig, c: GatewayConfig): string {
  const map = c.registerMaps.get(d.id);
  return JSON.stringify({
    d,
    defaults: c.defaults,
    camera_password: c.cameraPasswords.get(d.id) ?? null,
    comm_key: c.commKeys.get(d.id) ?? null,
    map: map ? JSON.stringify(map) : null,
    site: d.kind === 'terminal' ? { tz: c.site.timezone, hours: c.site.working_hours } : null,
  });
}

export function diffDevices(prev: GatewayConfig, next: GatewayConfig): DeviceChanges {
  const before = new Map(prev.devices.map((d) => [d.id, deviceKey(d, prev)]));
  const after = new Map(next.devices.map((d) => [d.id, deviceKey(d, next)]));
  const added = [...after.keys()].filter((id) => !before.has(id));
  const removed = [...before.keys()].filter((id) => !after.has(id));
  const changed = [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id));
  return { added, removed, changed };
}

/** Whether the site's path to the central (uplink) is probed differently. */
export const uplinkChanged = (prev: GatewayConfig, next: GatewayConfig): boolean =>
  JSON.stringify(prev.uplink ?? null) !== JSON.stringify(next.uplink ?? null);

/** The login the central knows this box by: a change locks the box out unless the central changed too. */
export function identityChanges(prev: GatewayConfig, next: GatewayConfig): string[] {
  const out: string[] = [];
  if (prev.site.id !== next.site.id) out.push(`site.id (${prev.site.id} → ${next.site.id})`);
  if (prev.mqtt.username !== next.mqtt.username) out.push('mqtt.username');
  if (prev.password !== next.password) out.push('mqtt password');
  if (prev.mqttTls?.cert !== next.mqttTls?.cert || prev.mqttTls?.key !== next.mqttTls?.key)
    out.push('mqtt.tls client certificate');
  return out;
}

export function restartSections(prev: GatewayConfig, next: GatewayConfig): string[] {
  const out: string[] = RESTART_SECTIONS.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(next[k]));
  // The site id names every topic the running box publishes on (only with allowIdentityChange).
  if (prev.site.id !== next.site.id) out.unshift('site.id');
  // The password and certificates are read from their files; the same config may name new contents.
  if (!out.includes('mqtt') && identityChanges(prev, next).length > 0) out.push('mqtt');
  return out;
}

/**
 * Reads the first polls after a swap. A failure the new config caused: a device, or one of its
 * pollers, that answered just before the change and does not after it (a wrong address, port or
 * community — SNMP silent while ping still answers counts), a device that refuses the credentials
 * the config gives, or a collector that cannot work at all with what the config says (kind
 * `unsupported`: a register map that does not fit the device, no serial port, a missing program).
 * A new device that does not answer is not one: it may not be plugged in yet.
 */
export function judgeCheck(
  looks: DeviceLook[],
  before: ReadonlyMap<string, DeviceBefore>,
): { failures: string[]; pending: string[] } {
  const failures: string[] = [];
  const pending: string[] = [];
  for (const l of looks) {
    const errors = Object.entries(l.errors);
    const auth = errors.find(([, e]) => e.kind === 'auth');
    const cannot = errors.find(([, e]) => e.kind === 'unsupported');
    const b = before.get(l.id);
    const lost = errors.find(([key]) => b?.okJobs.includes(key));
    if (auth) failures.push(`${l.id}: refused the credentials in the new config (${auth[1].message})`);
    else if (cannot)
      failures.push(`${l.id}: its collector cannot work with the new config (${cannot[1].message})`);
    else if (lost)
      failures.push(
        `${l.id}: ${lost[0].split(':')[0]} answered before the change and not after it (${lost[1].kind}: ${lost[1].message})`,
      );
    else if (b?.answered && l.done && !l.answered) {
      const why = errors[0] ? ` (${errors[0][1].kind}: ${errors[0][1].message})` : '';
      failures.push(`${l.id}: answered before the change and not after it${why}`);
    } else if (!l.done) pending.push(l.id);
  }
  return { failures, pending };
}

export interface HistoryEntry {
  n: number;
  version: string;
  hash: string;
  by: string;
  ts: number;
  status: 'applied' | 'rolled_back' | 'refused' | 'started';
  error?: string;
}

/** The last versions of site.yaml under state_dir/config-history: NNNNNN.yaml and NNNNNN.json. */
export class ConfigHistory {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, HISTORY_DIR);
  }

  entries(): HistoryEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => /^\d{6}\.json$/.test(f));
    } catch {
      return [];
    }
    const out: HistoryEntry[] = [];
    for (const f of names.sort()) {
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as HistoryEntry);
      } catch {
        // A half-written entry from a power cut: the others still count.
      }
    }
    return out;
  }

  text(n: number): string | null {
    try {
      return readFileSync(join(this.dir, `${String(n).padStart(6, '0')}.yaml`), 'utf8');
    } catch {
      return null;
    }
  }

  add(text: string, e: Omit<HistoryEntry, 'n' | 'hash'>): HistoryEntry {
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const all = this.entries();
    const n = (all.at(-1)?.n ?? 0) + 1;
    const entry: HistoryEntry = { n, hash: hashText(text), ...e };
    const stem = join(this.dir, String(n).padStart(6, '0'));
    // The config may hold secrets (passwords inline): readable by the daemon's group at most.
    writeFileAtomically(`${stem}.yaml`, text, { mode: 0o640 });
    writeFileAtomically(`${stem}.json`, `${JSON.stringify(entry)}\n`, { mode: 0o640 });
    for (const old of all.slice(0, Math.max(0, all.length + 1 - HISTORY_KEEP))) {
      const s = join(this.dir, String(old.n).padStart(6, '0'));
      rmSync(`${s}.yaml`, { force: true });
      rmSync(`${s}.json`, { force: true });
    }
    return entry;
  }

  /** The version a text was last recorded under, or its hash. */
  versionOf(text: string): string {
    const h = hashText(text);
    const hit = this.entries()
      .filter((e) => e.hash === h && e.status !== 'rolled_back' && e.status !== 'refused')
      .at(-1);
    return hit?.version ?? h;
  }
}

const noChanges = (): DeviceChanges => ({ added: [], removed: [], changed: [] });

/** Applies config texts one at a time to one running site box. */
export class Reloader {
  private text: string;
  private version: string;
  private readonly history: ConfigHistory;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly t: ReloadTarget) {
    const cfg = t.config();
    this.history = new ConfigHistory(cfg.state_dir);
    try {
      this.text = readFileSync(cfg.file, 'utf8');
    } catch {
      this.text = '';
    }
    this.version = this.history.versionOf(this.text);
  }

  get current(): { version: string; text: string } {
    return { version: this.version, text: this.text };
  }

  apply(text: string, o: ApplyOptions): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(text, o));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private refuse(version: string, error: string, o: ApplyOptions, text: string): ApplyResult {
    this.t.log.warn({ by: o.by, version, err: error }, 'new site config refused');
    try {
      this.history.add(text, { version, by: o.by, ts: Date.now(), status: 'refused', error });
    } catch (e) {
      this.t.log.warn({ err: (e as Error).message }, 'config history not written');
    }
    return { ok: false, version, previous: this.version, error, changes: noChanges() };
  }

  private async applyNow(text: string, o: ApplyOptions): Promise<ApplyResult> {
    const prev = this.t.config();
    const file = prev.file;
    const version = o.version ?? hashText(text);
    let next: GatewayConfig;
    try {
      next = parseGatewayConfig(text, file);
    } catch (e) {
      if (e instanceof ConfigError) return this.refuse(version, e.message, o, text);
      throw e;
    }
    const identity = identityChanges(prev, next);
    if (identity.length > 0 && !o.allowIdentityChange)
      return this.refuse(
        version,
        `changes the box's identity (${identity.join(', ')}): refused unless allowed explicitly`,
        o,
        text,
      );
    if (next.state_dir !== prev.state_dir)
      return this.refuse(version, 'state_dir cannot change on a running box: edit it and restart', o, text);
    const changes = diffDevices(prev, next);
    const restartNeeded = restartSections(prev, next);
    const previous = this.version;
    const prevText = this.text;
    const watched = [...changes.added, ...changes.changed];
    const before = new Map(changes.changed.map((id) => [id, this.t.before(id)]));
    const answeredBefore = new Set(
      [...before].filter(([, b]) => b.answered || b.okJobs.length > 0).map(([id]) => id),
    );

    try {
      writeFileAtomically(`${file}.prev`, prevText, { mode: 0o640 });
      writeFileAtomically(file, text, { mode: 0o640 });
    } catch (e) {
      // Nothing runs differently yet: say why, and what fixes it.
      return this.refuse(
        version,
        `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (the folder must be writable by the daemon's group; docs/operations.md)`,
        o,
        text,
      );
    }
    this.text = text;
    this.version = version;

    let failure: string | null = null;
    let pending: string[] = [];
    try {
      await this.t.swap(next, changes);
    } catch (e) {
      failure = `a collector could not start: ${(e as Error).message}`;
    }
    if (!failure && watched.length > 0) {
      const until = Date.now() + (o.checkWindowMs ?? 30_000);
      for (;;) {
        const j = judgeCheck(this.t.look(watched), before);
        pending = j.pending;
        if (j.failures.length > 0) {
          failure = j.failures.join('; ');
          break;
        }
        if (pending.length === 0 || Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      // A changed device that answered before and has not even finished its first poll is silent.
      const silent = pending.filter((id) => answeredBefore.has(id));
      if (!failure && silent.length > 0)
        failure = silent.map((id) => `${id}: answered before the change, no answer after it`).join('; ');
    }

    const result: ApplyResult = {
      ok: !failure,
      version,
      previous,
      changes,
      ...(restartNeeded.length > 0 ? { restartNeeded } : {}),
      ...(!failure && pending.length > 0 ? { unconfirmed: pending } : {}),
    };
    if (failure) {
      await this.rollback(prev, prevText, previous, next, file, text);
      result.ok = false;
      result.error = failure;
      result.rolledBack = true;
      delete result.restartNeeded;
      this.record(text, version, o.by, 'rolled_back', failure);
      this.t.log.warn({ by: o.by, version, previous, err: failure }, 'new site config rolled back');
      this.t.event(
        'config_rolled_back',
        {
          id: `Konfigurasi versi ${version} dibatalkan, kembali ke versi ${previous}: ${failure}`,
          en: `Config version ${version} rolled back to version ${previous}: ${failure}`,
        },
        { version, previous, by: o.by, error: failure, changes },
      );
      return result;
    }
    this.record(text, version, o.by, 'applied');
    this.t.log.info(
      { by: o.by, version, previous, changes, restart_needed: restartNeeded },
      'new site config applied',
    );
    const n = changes.added.length + changes.removed.length + changes.changed.length;
    this.t.event(
      'config_applied',
      {
        id: `Konfigurasi versi ${version} diterapkan tanpa restart (${n} perangkat berubah)${restartNeeded.length ? `; perlu restart untuk: ${restartNeeded.join(', ')}` : ''}`,
        en: `Config version ${version} applied without a restart (${n} devices changed)${restartNeeded.length ? `; a restart is needed for: ${restartNeeded.join(', ')}` : ''}`,
      },
      { version, previous, by: o.by, changes, restart_needed: restartNeeded },
    );
    return result;
  }

  private async rollback(
    prev: GatewayConfig,
    prevText: string,
    previous: string,
    failed: GatewayConfig,
    file: string,
    failedText: string,
  ): Promise<void> {
    this.text = prevText;
    this.version = previous;
    const back = diffDevices(failed, prev);
    try {
      await this.t.swap(prev, back);
    } catch (e) {
      // The old config ran before: its pollers starting again cannot fail for config reasons.
      this.t.log.error({ err: (e as Error).message }, 'rollback: a previous collector did not start again');
    }
    try {
      // The rejected text stays beside site.yaml for whoever wants to see what was wrong.
      writeFileAtomically(`${file}.rejected`, failedText, { mode: 0o640 });
      writeFileAtomically(file, prevText, { mode: 0o640 });
    } catch (e) {
      this.t.log.error(
        { err: (e as Error).message, file },
        'rollback: the previous site.yaml could not be written back',
      );
    }
  }

  private record(text: string, version: string, by: string, status: HistoryEntry['status'], error?: string) {
    try {
      this.history.add(text, { version, by, ts: Date.now(), status, ...(error ? { error } : {}) });
    } catch (e) {
      this.t.log.warn({ err: (e as Error).message }, 'config history not written');
    }
  }
}
