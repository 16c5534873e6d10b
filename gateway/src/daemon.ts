// The site box daemon: schedules the collectors, judges each device's health, and hands readings,
// states and events to the publisher.

import { execFile } from 'node:child_process';
import { freemem, hostname, loadavg, uptime } from 'node:os';
import { join } from 'node:path';
import type { CollectorError, CollectorObservation, CollectorResult } from '@pantau/collectors/common';
import {
  collectModbus,
  debouncePower,
  type ModbusTarget,
  type PowerState,
  powerEventText,
} from '@pantau/collectors/modbus';
import { pingBurst, pingReading } from '@pantau/collectors/ping';
import { findFfmpeg, setFfmpegConcurrency } from '@pantau/collectors/rtsp';
import { collectSnmp, newSnmpMemory, type SnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import {
  collectTerminal,
  type TerminalMemory,
  type TerminalTarget,
  terminalKey,
  withTerminalLock,
  ZkClient,
} from '@pantau/collectors/zkteco';
import { certificateDaysLeft, pathFrom } from '@pantau/config';
import type {
  CameraStatus,
  ClockStatus,
  DeviceStatePayload,
  EventPayload,
  GatewayStatePayload,
  MetricName,
  Reading,
  Reason,
  Status,
  TerminalStatus,
} from '@pantau/contract';
import { renderCommissioningHtml, topics } from '@pantau/contract';
import pino, { type Logger } from 'pino';
import {
  type CameraMemory,
  type CameraTarget,
  cameraTarget,
  judgeCamera,
  newCameraMemory,
  observeCamera,
  setCameraClock,
  takeThumbnail,
} from './camera.js';
import { type ClockStep, ClockWatch } from './clock.js';
import type { DeviceConfig, GatewayConfig } from './config.js';
import { enrollSiteBox } from './enroll.js';
import { DEFAULT_RULES, evaluateRules, REACHABILITY, worst } from './health/rules.js';
import { commissionSite, fitForCentral, fitsCap, saveReport } from './installer/commission.js';
import { startInstallerServer } from './installer/server.js';
import { startObserver } from './observe.js';
import { DiskOutbox, dropEvent, outboxOptions } from './outbox.js';
import { Publisher, RequestError } from './publisher.js';
import { type ApplyOptions, type ApplyResult, type DeviceLook, Reloader, uplinkChanged } from './reload.js';
import { remoteHands, snmpSessionOptions } from './remote-hands.js';
import { type Job, Scheduler } from './scheduler.js';
import { SequenceCounter } from './sequence.js';
import {
  judgeTerminal,
  newTerminalJudgeMemory,
  type TerminalJudgeMemory,
  type TerminalSettings,
} from './terminal.js';
import { judgePath, pathReadings, probePath, UPLINK_DEVICE } from './uplink.js';
import { VERSION } from './version.js';

/**
 * A site.yaml bigger than this is not a site.yaml (200 devices are ~40 kB); the central's API has
 * the same bound, which keeps a push, JSON-escaped, under the broker's default 256 kB packet limit.
 */
const MAX_CONFIG_BYTES = 96 * 1024;

/** Figures a device state carries so a dashboard can draw its row without history. */
const KEY_FIGURES: MetricName[] = [
  'rx_power_dbm',
  'snr_db',
  'noise_floor_dbm',
  'ccq_pct',
  'capacity_pct',
  'capacity_tx_bps',
  'capacity_rx_bps',
  'rate_tx_bps',
  'rate_rx_bps',
  'frequency_mhz',
  'stations_count',
  'uptime_s',
  'latency_ms',
  'loss_pct',
  'if_in_bps',
  'if_out_bps',
  'on_battery',
  'battery_pct',
  'battery_runtime_s',
  'input_voltage_v',
  'output_load_pct',
  'power_w',
  'pv_power_w',
];

interface DeviceRuntime {
  cfg: DeviceConfig;
  /** Its pollers' scheduler keys. */
  jobs: string[];
  log: Logger;
  session: SnmpSession | null;
  memory: SnmpMemory;
  kind: CollectorResult['kind'];
  identity: CollectorResult['identity'];
  peers: string[];
  figures: Partial<Record<MetricName, { value: number; ts: number }>>;
  lastSeen: number | null;
  snmpError: CollectorError | null;
  /** What the last SNMP poll had to say beyond numbers (e.g. "no wireless data"). */
  notices: Reason[];
  snmpPolled: boolean;
  pingPolled: boolean;
  activeRules: Set<string>;
  status: Status;
  /** A UPS's confirmed mains/battery state, for power events. */
  power?: PowerState;
  terminal: {
    target: TerminalTarget;
    settings: TerminalSettings;
    collect: TerminalMemory;
    judge: TerminalJudgeMemory;
    judged: { status: Status; reasons: Reason[]; terminal: TerminalStatus } | null;
  } | null;
  camera: {
    target: CameraTarget;
    memory: CameraMemory;
    /** The last judgement; null until the first look. */
    judged: { status: Status; reasons: Reason[]; camera: CameraStatus } | null;
    thumbnailTs: number | null;
  } | null;
}

export interface RunningGateway {
  stop(): Promise<void>;
  /**
   * Applies a new site.yaml without a restart (see reload.ts): checked, written, the changed
   * devices swapped, and rolled back when their first polls show the new config broke them.
   */
  applyConfig(yamlText: string, o: ApplyOptions): Promise<ApplyResult>;
  /** The installer page's address, when it runs. */
  installerUrl(): string | null;
  /** The running config's version and text. */
  configVersion(): { version: string; text: string };
  stats(): { polls: ReturnType<Scheduler['stats']>; seq: number; outbox: number; connected: boolean };
}

/** "+3 hari 2 jam" / "+3 d 2 h": how far the clock moved. */
function formatStep(ms: number): { id: string; en: string } {
  const sign = ms < 0 ? '−' : '+';
  let s = Math.round(Math.abs(ms) / 1000);
  const parts: Array<[number, string, string]> = [];
  for (const [size, id, en] of [
    [86400 * 365, 'tahun', 'y'],
    [86400, 'hari', 'd'],
    [3600, 'jam', 'h'],
    [60, 'menit', 'min'],
    [1, 'detik', 's'],
  ] as Array<[number, string, string]>) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n > 0 && parts.length < 2) parts.push([n, id, en]);
  }
  if (parts.length === 0) parts.push([0, 'detik', 's']);
  return {
    id: sign + parts.map(([n, id]) => `${n} ${id}`).join(' '),
    en: sign + parts.map(([n, , en]) => `${n} ${en}`).join(' '),
  };
}

function readClock(): Promise<ClockStatus> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 2000 }, (err, out) => {
      if (err) return resolve({ synced: false, source: 'unknown' });
      resolve({ synced: out.trim() === 'yes', source: 'ntp' });
    });
  });
}

/** Traffic figures come from the radio interface if we can tell which, else the busiest non-loopback one. */
function pickInterface(readings: Reading[]): Reading | undefined {
  const ifs = readings.filter((r) => r.labels?.iface !== undefined && r.labels.iface !== 'lo');
  const radio = ifs.find(
    (r) => /^(ath|wlan|wifi|radio|wl)/i.test(r.labels!.iface!) && r.values.if_in_bps !== undefined,
  );
  if (radio) return radio;
  let best: Reading | undefined;
  for (const r of ifs) {
    const t = (r.values.if_in_bps ?? -1) + (r.values.if_out_bps ?? -1);
    if (t >= 0 && (!best || t > (best.values.if_in_bps ?? 0) + (best.values.if_out_bps ?? 0))) best = r;
  }
  return best;
}

export async function startGateway(
  initial: GatewayConfig,
  opts: {
    logger?: Logger;
    /**
     * Called after the installer page enrolled the box: a new site id and account need a new
     * process (the CLI stops and exits; systemd's Restart=always starts it again).
     */
    onRestartNeeded?: () => void;
  } = {},
): Promise<RunningGateway> {
  // A reload replaces it; closures read it when they run, so what they read is the running config.
  let cfg = initial;
  const site = cfg.site.id;
  const log = (opts.logger ?? pino({ level: cfg.log_level, base: { service: 'pantau-gateway' } })).child({
    site,
  });
  let startedAt = Date.now();
  const startedMono = performance.now();
  // NTP's verdict first: a box without a saved sequence number numbers from the clock if it is set.
  let clock: ClockStatus = await readClock();

  // Everything published at QoS 1 is on disk first (state_dir/outbox.db); drops are reported as events.
  const outbox = new DiskOutbox({
    path: join(cfg.state_dir, 'outbox.db'),
    ...outboxOptions(cfg.outbox),
    log,
    onDrop: (d) => {
      const { message, data } = dropEvent(d, cfg.site.timezone);
      event('outbox_dropped', 'warning', message, undefined, data);
    },
  });
  // The box's own clock: readings wait while it is not set, and are corrected when it is.
  const clockWatch = new ClockWatch();
  const clockSince = performance.now();
  let lastStep: ClockStep | null = null;
  let clockGaveUp = false;
  const clockStatus = (): ClockStatus => ({
    ...clock,
    plausible: clockWatch.plausible,
    holding: publisher.holding,
    ...(lastStep ? { last_step_ms: lastStep.deltaMs, last_step_at: lastStep.detectedAt } : {}),
  });
  // Just booted and NTP says not yet: a box without a real-time clock may still show the time
  // fake-hwclock saved at shutdown, plausible but hours or days behind.
  const clockTrusted = () =>
    clockWatch.plausible && !(clock.source === 'ntp' && !clock.synced && uptime() < 600 && !lastStep);
  const seq = new SequenceCounter(cfg.state_dir, {
    clockTrusted,
    ...(outbox.lastSeqAtStart !== null ? { floor: outbox.lastSeqAtStart } : {}),
  });
  if (seq.origin === 'unset_clock')
    log.warn(
      { seq_first: seq.first },
      'no saved sequence number and the clock is not set yet: numbering from the clock as it stands until it is (numbers may clash with an earlier box of this site)',
    );
  const onClockStep = (step: ClockStep) => {
    lastStep = step;
    startedAt += step.deltaMs;
    const correct = !step.wasPlausible || Math.abs(step.deltaMs) >= cfg.clock.correct_over_s * 1000;
    const inFlight = publisher.inflightIds.size;
    const corrected = correct
      ? (outbox.shiftTimes(step.deltaMs, outbox.lastPushedId, publisher.inflightIds) ?? 0)
      : 0;
    const by = formatStep(step.deltaMs);
    log.warn({ delta_ms: step.deltaMs, corrected, in_flight: inFlight }, 'the site box clock was set');
    event(
      'gateway_clock_set',
      correct ? 'warning' : 'info',
      correct
        ? {
            id: `Jam gateway disetel (${by.id}); ${corrected} pesan yang menunggu dikoreksi waktunya`,
            en: `Site box clock set (${by.en}); ${corrected} waiting messages had their times corrected`,
          }
        : { id: `Jam gateway disetel (${by.id})`, en: `Site box clock set (${by.en})` },
      undefined,
      {
        delta_ms: step.deltaMs,
        was_plausible: step.wasPlausible,
        corrected,
        // Already on their way: these keep their old times (and the central flags them if implausible).
        uncorrected_in_flight: correct ? inFlight : 0,
      },
    );
    void readClock().then((c) => {
      clock = c;
    });
  };
  const checkClock = () => {
    const step = clockWatch.check();
    if (step) onClockStep(step);
  };
  const judgeClock = () => {
    checkClock();
    const trusted = clockTrusted();
    const waited = performance.now() - clockSince > cfg.clock.wait_for_sync_s * 1000;
    if (!trusted && waited && !clockGaveUp) {
      clockGaveUp = true;
      log.error(
        { waited_s: cfg.clock.wait_for_sync_s, now: new Date().toISOString() },
        'the clock is still not set: sending readings with their times as they are (the central sets implausible ones aside)',
      );
      event('gateway_clock_unset', 'critical', {
        id: `Jam gateway belum disetel setelah ${cfg.clock.wait_for_sync_s} detik: waktu bacaan tidak dapat dipercaya (periksa NTP)`,
        en: `Site box clock still not set after ${cfg.clock.wait_for_sync_s} s: reading times cannot be trusted (check NTP)`,
      });
    }
    if (trusted) clockGaveUp = false;
    const jump = trusted ? seq.clockSet() : null;
    publisher.hold(!trusted && !waited);
    if (jump) {
      log.warn(
        { from: jump[0], to: jump[1] },
        'the clock is set: sequence numbers now count from it (the numbers in between are unused)',
      );
      // The birth tells the central which numbers were skipped.
      publisher.announce();
    }
  };

  const publisher: Publisher = new Publisher({
    beforeWrite: checkClock,
    site,
    outbox,
    replayRatePerS: cfg.outbox.replay_rate_per_s,
    inflight: cfg.outbox.inflight,
    backfillAfterMs: cfg.outbox.backfill_after_s * 1000,
    urls: cfg.mqtt.urls,
    maxMessageBytes: cfg.mqtt.max_packet_bytes,
    onRejected: (r) => {
      const why =
        r.reason === 'too_big'
          ? {
              id: `lebih besar dari batas pusat (${r.bytes} > ${cfg.mqtt.max_packet_bytes} byte)`,
              en: `larger than the central takes (${r.bytes} > ${cfg.mqtt.max_packet_bytes} bytes)`,
            }
          : { id: 'selalu ditolak broker pusat', en: 'refused by the central broker every time' };
      // After the rejected message, so the report itself cannot be what blocks.
      queueMicrotask(() =>
        event(
          'outbox_rejected',
          'warning',
          {
            id: `Satu pesan tidak dikirim, ${why.id}: ${r.topic}`,
            en: `One message not sent, ${why.en}: ${r.topic}`,
          },
          undefined,
          { reason: r.reason, topic: r.topic, bytes: r.bytes, seq: r.seq, reading_ts: r.ts },
        ),
      );
    },
    username: cfg.mqtt.username,
    password: cfg.password,
    ...(cfg.mqttTls ? { tls: cfg.mqttTls } : {}),
    keepaliveS: cfg.mqtt.keepalive_s,
    clientId: `pantau-gw-${site}-${hostname()}`.slice(0, 64),
    log,
    birth: (): GatewayStatePayload => ({
      v: 1,
      state: 'online',
      ts: Date.now(),
      site,
      version: VERSION,
      started_at: startedAt,
      uptime_s: Math.round((performance.now() - startedMono) / 1000),
      outbox_depth: publisher.outbox.depth,
      seq_first: seq.first,
      ...(outbox.lastSeqAtStart !== null ? { seq_committed: outbox.lastSeqAtStart } : {}),
      seq_origin: seq.origin,
      ...(seq.jumped ? { seq_jump: [seq.jumped[0], seq.jumped[1]] as [number, number] } : {}),
      ...(outbox.uncleanStart ? { unclean_restart: true } : {}),
      clock: clockStatus(),
      ...(cfg.site.name ? { name: cfg.site.name } : {}),
    }),
  });

  const event = (
    type: EventPayload['type'],
    severity: EventPayload['severity'],
    message: EventPayload['message'],
    device?: string,
    data?: Record<string, unknown>,
  ) => {
    const ts = Date.now();
    const e: EventPayload = {
      v: 1,
      seq: seq.take(),
      ts,
      type,
      severity,
      message,
      ...(device ? { device } : {}),
      ...(data ? { data } : {}),
    };
    publisher.publish(topics.events(site), e, ts);
    log.info({ device, event: type }, message.en);
  };

  const devices = new Map<string, DeviceRuntime>();
  /** A device's pollers' state, fresh: what a start, or a reload that adds or changes it, builds. */
  const newRuntime = (d: DeviceConfig): DeviceRuntime => {
    const timeoutMs = d.timeout_ms ?? cfg.defaults.timeout_ms;
    const s = d.snmp;
    return {
      cfg: d,
      jobs: [],
      log: log.child({ device: d.id }),
      session: s ? new SnmpSession(snmpSessionOptions(d, cfg)!) : null,
      memory: newSnmpMemory(),
      kind: d.kind,
      identity: {},
      peers: [],
      figures: {},
      lastSeen: null,
      snmpError: null,
      notices: [],
      snmpPolled: false,
      pingPolled: false,
      activeRules: new Set(),
      status: 'unknown',
      terminal:
        d.kind === 'terminal'
          ? {
              target: {
                host: d.address,
                port: d.zk?.port ?? 4370,
                transport: d.zk?.transport ?? 'tcp',
                timeoutMs,
                ...(cfg.commKeys.has(d.id) ? { commKey: cfg.commKeys.get(d.id)! } : {}),
              },
              settings: {
                clock_warn_s: d.terminal?.clock_warn_s ?? 60,
                fill_warn_pct: d.terminal?.fill_warn_pct ?? 80,
                fill_critical_pct: d.terminal?.fill_critical_pct ?? 95,
                no_punch_grace_min: d.terminal?.no_punch_grace_min ?? 60,
                working_hours: d.terminal?.working_hours ?? cfg.site.working_hours,
              },
              collect: {},
              judge: newTerminalJudgeMemory(),
              judged: null,
            }
          : null,
      camera:
        d.kind === 'camera'
          ? {
              target: cameraTarget(d, cfg.cameraPasswords.get(d.id), timeoutMs),
              memory: newCameraMemory(),
              judged: null,
              thumbnailTs: null,
            }
          : null,
    };
  };

  const judge = (dev: DeviceRuntime): { status: Status; reasons: Reason[] } => {
    if (dev.camera) {
      if (!dev.camera.judged) return { status: 'unknown', reasons: [] };
      return { status: dev.camera.judged.status, reasons: dev.camera.judged.reasons };
    }
    if (dev.terminal) {
      if (!dev.terminal.judged) return { status: 'unknown', reasons: [] };
      return { status: dev.terminal.judged.status, reasons: dev.terminal.judged.reasons };
    }
    const d = dev.cfg;
    const pinged = d.ping?.enabled !== false && dev.pingPolled;
    const pingDead = pinged && dev.figures.loss_pct?.value === 100;
    if (!dev.snmpPolled && !dev.pingPolled) return { status: 'unknown', reasons: [] };
    const current: Partial<Record<MetricName, number>> = {};
    for (const [k, f] of Object.entries(dev.figures)) current[k as MetricName] = f.value;
    if ((dev.session || dev.cfg.modbus) && dev.snmpError) {
      const e = dev.snmpError;
      if (e.kind === 'timeout' || e.kind === 'unreachable') {
        if (!pinged || pingDead) return { status: 'down', reasons: [{ ...REACHABILITY.silent }] };
        return { status: 'degraded', reasons: [{ ...REACHABILITY.snmpSilent }] };
      }
      const r = e.kind === 'auth' ? REACHABILITY.snmpAuth : REACHABILITY.snmpMalformed;
      const rest = evaluateRules(DEFAULT_RULES, { loss_pct: current.loss_pct ?? 0 }, dev.activeRules);
      return { status: worst('degraded', rest.status), reasons: [{ ...r }, ...rest.reasons] };
    }
    if (!dev.session && pingDead) return { status: 'down', reasons: [{ ...REACHABILITY.silent }] };
    const judged = evaluateRules(DEFAULT_RULES, current, dev.activeRules);
    return { status: judged.status, reasons: [...judged.reasons, ...dev.notices] };
  };

  /** A removed or replaced device's last poll in flight has nothing more to say. */
  const gone = (dev: DeviceRuntime) => devices.get(dev.cfg.id) !== dev;

  const publishState = (dev: DeviceRuntime) => {
    if (gone(dev)) return;
    const { status, reasons } = judge(dev);
    const prev = dev.status;
    dev.status = status;
    if (status === 'down' && prev !== 'down')
      event(
        'device_unreachable',
        'critical',
        {
          id: `${dev.cfg.name ?? dev.cfg.id}: perangkat terputus`,
          en: `${dev.cfg.name ?? dev.cfg.id}: device unreachable`,
        },
        dev.cfg.id,
      );
    if (prev === 'down' && status !== 'down')
      event(
        'device_reachable',
        'info',
        {
          id: `${dev.cfg.name ?? dev.cfg.id}: perangkat terhubung kembali`,
          en: `${dev.cfg.name ?? dev.cfg.id}: device reachable again`,
        },
        dev.cfg.id,
      );
    const interval = dev.cfg.interval_s ?? cfg.defaults.interval_s;
    const state: DeviceStatePayload = {
      v: 1,
      ts: Date.now(),
      device: dev.cfg.id,
      kind: dev.kind,
      ...(dev.cfg.name ? { name: dev.cfg.name } : {}),
      address: dev.cfg.address,
      status,
      reasons,
      last_seen: dev.lastSeen,
      interval_s: interval,
      figures: dev.figures,
      ...(dev.identity?.vendor ? { vendor: dev.identity.vendor } : {}),
      ...(dev.identity?.model ? { model: dev.identity.model } : {}),
      ...(dev.identity?.firmware ? { firmware: dev.identity.firmware } : {}),
      ...(dev.identity?.serial ? { serial: dev.identity.serial } : {}),
      ...(dev.identity?.macs?.length ? { macs: dev.identity.macs } : {}),
      ...(dev.peers?.length ? { peers: dev.peers } : {}),
      ...(dev.camera?.judged
        ? { camera: { ...dev.camera.judged.camera, thumbnail_ts: dev.camera.thumbnailTs } }
        : {}),
      ...(dev.terminal?.judged ? { terminal: dev.terminal.judged.terminal } : {}),
    };
    publisher.publishRetained(topics.deviceState(site, dev.cfg.id), state);
  };

  const record = (dev: DeviceRuntime, readings: Reading[], figuresFrom: Reading[]) => {
    if (gone(dev)) return;
    for (const r of figuresFrom)
      for (const [k, v] of Object.entries(r.values))
        if (KEY_FIGURES.includes(k as MetricName)) dev.figures[k as MetricName] = { value: v, ts: r.ts };
    publisher.publish(
      topics.deviceTelemetry(site, dev.cfg.id),
      { v: 1, seq: seq.take(), device: dev.cfg.id, backfill: false, readings },
      readings[0]?.ts ?? Date.now(),
    );
  };

  const observe = (dev: DeviceRuntime, o: CollectorObservation) =>
    event(
      o.type,
      o.type === 'device_rebooted' ? 'warning' : 'info',
      {
        id: `${dev.cfg.name ?? dev.cfg.id}: ${o.message.id}`,
        en: `${dev.cfg.name ?? dev.cfg.id}: ${o.message.en}`,
      },
      dev.cfg.id,
      o.data,
    );

  const scheduler = new Scheduler({
    concurrency: {
      snmp: cfg.concurrency.snmp,
      ping: cfg.concurrency.ping,
      camera: cfg.concurrency.camera,
      terminal: 4,
      modbus: 4,
    },
    jitterPct: cfg.defaults.jitter_pct,
    maxBackoffMs: cfg.defaults.max_backoff_s * 1000,
  });

  /** One successful read of a device (SNMP or Modbus): identity, readings, observations, power events. */
  const absorb = (dev: DeviceRuntime, r: CollectorResult) => {
    const d = dev.cfg;
    dev.kind = d.kind === 'host' ? 'host' : r.kind === 'host' ? d.kind : r.kind;
    dev.identity = r.identity;
    dev.peers = r.peers ?? [];
    dev.lastSeen = Date.now();
    dev.snmpError = null;
    dev.notices = r.notices ?? [];
    dev.snmpPolled = true;
    const traffic = pickInterface(r.readings);
    const trafficFigures: Reading = { ts: traffic?.ts ?? 0, values: {} };
    if (traffic?.values.if_in_bps !== undefined) trafficFigures.values.if_in_bps = traffic.values.if_in_bps;
    if (traffic?.values.if_out_bps !== undefined)
      trafficFigures.values.if_out_bps = traffic.values.if_out_bps;
    record(dev, r.readings, [r.readings[0]!, trafficFigures]);
    for (const o of r.observations) observe(dev, o);
    // A UPS: mains lost or back, confirmed by two readings so a self-test pages nobody.
    const own = r.readings.find((x) => !x.labels);
    if (own?.values.on_battery !== undefined) {
      const { state, event: ev } = debouncePower(dev.power, own.values.on_battery);
      dev.power = state;
      if (ev) {
        const text = powerEventText(ev, own);
        event(
          text.type,
          text.severity,
          { id: `${d.name ?? d.id}: ${text.message.id}`, en: `${d.name ?? d.id}: ${text.message.en}` },
          d.id,
          text.data,
        );
      }
    }
    publishState(dev);
  };

  const modbusJob = (dev: DeviceRuntime): Job | null => {
    const d = dev.cfg;
    const map = cfg.registerMaps.get(d.id);
    if (!d.modbus || !map) return null;
    const m = d.modbus;
    const timeoutMs = d.timeout_ms ?? cfg.defaults.timeout_ms;
    const target: ModbusTarget = {
      transport: m.transport,
      unitId: m.unit_id,
      timeoutMs,
      ...(m.transport === 'tcp'
        ? { host: d.address, port: m.port }
        : { path: m.path!, baudRate: m.baud_rate }),
    };
    return {
      key: `modbus:${d.id}`,
      protocol: 'modbus',
      intervalMs: (d.interval_s ?? cfg.defaults.interval_s) * 1000,
      timeoutMs: timeoutMs * 8 + 1000,
      run: async () => absorb(dev, await collectModbus(target, map)),
      onFailure: (e) => {
        dev.snmpPolled = true;
        if (dev.snmpError?.kind !== e.kind)
          dev.log.warn({ kind: e.kind, err: e.message }, 'Modbus read failed');
        dev.snmpError = e;
        publishState(dev);
      },
    };
  };

  const pollJobs = (dev: DeviceRuntime): Job[] => {
    const jobs: Job[] = [];
    const d = dev.cfg;
    const intervalMs = (d.interval_s ?? cfg.defaults.interval_s) * 1000;
    const timeoutMs = d.timeout_ms ?? cfg.defaults.timeout_ms;
    if (dev.session) {
      const session = dev.session;
      jobs.push({
        key: `snmp:${d.id}`,
        protocol: 'snmp',
        intervalMs,
        // A poll is several requests, each with its own timeout and retries.
        timeoutMs: timeoutMs * (cfg.defaults.retries + 1) * 8 + 1000,
        run: async () => absorb(dev, await collectSnmp(session, dev.memory)),
        onFailure: (e) => {
          dev.snmpPolled = true;
          if (dev.snmpError?.kind !== e.kind)
            dev.log.warn({ kind: e.kind, err: e.message }, 'SNMP poll failed');
          dev.snmpError = e;
          publishState(dev);
        },
      });
    }
    if (d.ping?.enabled !== false && d.ping !== undefined) {
      const count = d.ping.count;
      jobs.push({
        key: `ping:${d.id}`,
        protocol: 'ping',
        intervalMs,
        timeoutMs: count * 200 + timeoutMs + 3000,
        run: async () => {
          const res = await pingBurst(d.address, { count, intervalMs: 200, timeoutMs });
          const reading = pingReading(res, Date.now());
          dev.pingPolled = true;
          if (res.received > 0) dev.lastSeen = Math.max(dev.lastSeen ?? 0, reading.ts);
          // Latency figures must not linger from before a total loss.
          if (res.received === 0) {
            delete dev.figures.latency_ms;
          }
          record(dev, [reading], [reading]);
          publishState(dev);
        },
        onFailure: (e) => {
          dev.log.warn({ kind: e.kind, err: e.message }, 'ping failed');
        },
      });
    }
    return jobs;
  };

  let ffmpegMissing: Reason | null = null;
  let ffmpegChecked = false;
  /** Once, when the first camera is configured (at start or by a reload). */
  const checkFfmpeg = () => {
    if (ffmpegChecked) return;
    ffmpegChecked = true;
    setFfmpegConcurrency(cfg.concurrency.ffmpeg);
    try {
      findFfmpeg();
    } catch (e) {
      ffmpegMissing = {
        code: 'ffmpeg_missing',
        id: 'ffmpeg tidak terpasang di gateway: video tidak diperiksa (apt-get install ffmpeg)',
        en: 'ffmpeg is not installed on the site box: video not checked (apt-get install ffmpeg)',
      };
      log.warn({ err: (e as Error).message }, 'cameras: video probes disabled');
    }
  };

  const cameraJob = (dev: DeviceRuntime): Job | null => {
    const cam = dev.camera;
    if (!cam) return null;
    checkFfmpeg();
    const d = dev.cfg;
    const name = d.name ?? d.id;
    const intervalMs = (d.interval_s ?? 60) * 1000;
    return {
      key: `camera:${d.id}`,
      protocol: 'camera',
      intervalMs,
      // ONVIF exchanges, waiting for an ffmpeg slot, the sample itself and a thumbnail.
      timeoutMs: Math.max(intervalMs, (cam.target.settings.sample_s + 30) * 1000),
      run: async (signal) => {
        const o = await observeCamera(cam.target, signal, ffmpegMissing);
        const j = judgeCamera(o, cam.memory, cam.target.settings, name);
        cam.judged = { status: j.status, reasons: j.reasons, camera: j.camera };
        const onvif = o.onvif;
        if (onvif?.identity)
          dev.identity = {
            ...dev.identity,
            vendor: onvif.identity.manufacturer,
            model: onvif.identity.model,
            firmware: onvif.identity.firmware,
            serial: onvif.identity.serial,
          };
        if (o.probe?.up || (onvif && onvif.state !== 'Unreachable')) dev.lastSeen = o.ts;
        if (j.readings.length > 0) record(dev, j.readings, j.readings);
        for (const e of j.events) event(e.type, e.severity, e.message, d.id, e.data);
        const due =
          cam.thumbnailTs === null ||
          o.ts - cam.thumbnailTs >= cam.target.settings.thumbnail_interval_s * 1000;
        if (due) {
          const thumb = await takeThumbnail(cam.target, o, ffmpegMissing, signal).catch((e: Error) => {
            dev.log.warn({ err: e.message }, 'thumbnail failed');
            return null;
          });
          if (thumb) {
            cam.thumbnailTs = Date.now();
            publisher.publishRetained(topics.deviceThumbnail(site, d.id), {
              v: 1,
              ts: cam.thumbnailTs,
              device: d.id,
              mime: 'image/jpeg',
              ...(thumb.width ? { width: thumb.width } : {}),
              data: thumb.jpeg.toString('base64'),
            });
          }
        }
        publishState(dev);
      },
      onFailure: (e) => dev.log.warn({ kind: e.kind, err: e.message }, 'camera check failed'),
    };
  };

  const terminalJob = (dev: DeviceRuntime): Job | null => {
    const term = dev.terminal;
    if (!term) return null;
    const d = dev.cfg;
    const name = d.name ?? d.id;
    const timeoutMs = d.timeout_ms ?? cfg.defaults.timeout_ms;
    return {
      key: `terminal:${d.id}`,
      protocol: 'terminal',
      intervalMs: (d.interval_s ?? 300) * 1000,
      // A log read of a full terminal is many round trips; the session lock may also wait its turn.
      timeoutMs: Math.max(120_000, timeoutMs * 40),
      run: async () => {
        const res = await collectTerminal(term.target, term.collect, { timeZone: cfg.site.timezone });
        const now = Date.now();
        const j = judgeTerminal(res, term.judge, term.settings, { name, timeZone: cfg.site.timezone, now });
        term.judged = { status: j.status, reasons: j.reasons, terminal: j.terminal };
        if (res.identity)
          dev.identity = {
            ...dev.identity,
            vendor: 'ZKTeco',
            model: res.identity.name,
            firmware: res.identity.firmware,
            serial: res.identity.serial,
          };
        if (res.state !== 'unreachable') dev.lastSeen = now;
        if (j.readings.length > 0) record(dev, j.readings, j.readings);
        for (const e of j.events) event(e.type, e.severity, e.message, d.id, e.data);
        publishState(dev);
      },
      onFailure: (e) => dev.log.warn({ kind: e.kind, err: e.message }, 'terminal read failed'),
    };
  };

  const startDevice = (d: DeviceConfig, firstDelayMs?: number): void => {
    const dev = newRuntime(d);
    const jobs = [modbusJob(dev), ...pollJobs(dev), cameraJob(dev), terminalJob(dev)].filter(
      (j): j is Job => j !== null,
    );
    devices.set(d.id, dev);
    dev.jobs = jobs.map((j) => j.key);
    for (const j of jobs) scheduler.add(j, firstDelayMs);
  };
  /** Stops a device's pollers (waiting for a poll in flight); `forget` clears its retained state too. */
  const stopDevice = async (id: string, forget: boolean): Promise<void> => {
    const dev = devices.get(id);
    if (!dev) return;
    devices.delete(id);
    await Promise.all(dev.jobs.map((k) => scheduler.drop(k)));
    dev.session?.close();
    if (forget) {
      publisher.clearRetained(topics.deviceState(site, id));
      publisher.clearRetained(topics.deviceThumbnail(site, id));
    }
  };
  for (const d of cfg.devices) startDevice(d);

  publisher.handle('terminal-clock-sync', async (args) => {
    const dev = typeof args.device === 'string' ? devices.get(args.device) : undefined;
    if (!dev?.terminal)
      throw new RequestError('unknown_device', `no terminal "${String(args.device)}" at this site`);
    const { target } = dev.terminal;
    const tz = cfg.site.timezone;
    const { before, after } = await withTerminalLock(terminalKey(target), async () => {
      const client = new ZkClient(target);
      try {
        await client.connect();
        const before = await client.clockOffset(tz);
        await client.setTime(new Date(), tz);
        return { before, after: await client.clockOffset(tz) };
      } finally {
        await client.disconnect().catch(() => undefined);
      }
    });
    event(
      'clock_synced',
      'info',
      {
        id: `${dev.cfg.name ?? dev.cfg.id}: jam mesin absensi disetel (selisih ${before} s → ${after} s)`,
        en: `${dev.cfg.name ?? dev.cfg.id}: terminal clock set (offset ${before} s → ${after} s)`,
      },
      dev.cfg.id,
      { previous_offset_s: before, offset_s: after, by: typeof args.by === 'string' ? args.by : undefined },
    );
    if (dev.terminal.judged) {
      dev.terminal.judged.terminal.clock_offset_s = after;
      dev.terminal.judge.drift = false;
      dev.terminal.judged.reasons = dev.terminal.judged.reasons.filter((x) => x.code !== 'clock_drift');
      if (dev.terminal.judged.reasons.length === 0 && dev.terminal.judged.status === 'degraded')
        dev.terminal.judged.status = 'ok';
      publishState(dev);
    }
    return { device: dev.cfg.id, previous_offset_s: before, offset_s: after };
  });
  publisher.handle('camera-clock-sync', async (args) => {
    const dev = typeof args.device === 'string' ? devices.get(args.device) : undefined;
    if (!dev?.camera)
      throw new RequestError('unknown_device', `no camera "${String(args.device)}" at this site`);
    const target = dev.camera.target.onvif;
    if (!target) throw new RequestError('no_onvif', 'this camera has no ONVIF settings');
    const res = await setCameraClock(target);
    const before = Math.round(res.previous_offset_ms / 100) / 10;
    const after = Math.round(res.offset_ms / 100) / 10;
    event(
      'clock_synced',
      'info',
      {
        id: `${dev.cfg.name ?? dev.cfg.id}: jam kamera disetel (selisih ${before} s → ${after} s)`,
        en: `${dev.cfg.name ?? dev.cfg.id}: camera clock set (offset ${before} s → ${after} s)`,
      },
      dev.cfg.id,
      { previous_offset_s: before, offset_s: after, by: typeof args.by === 'string' ? args.by : undefined },
    );
    if (dev.camera.judged) {
      dev.camera.judged.camera.clock_offset_s = after;
      dev.camera.memory.reported.drift = false;
      dev.camera.judged.reasons = dev.camera.judged.reasons.filter((r) => r.code !== 'clock_drift');
      if (dev.camera.judged.reasons.length === 0 && dev.camera.judged.status === 'degraded')
        dev.camera.judged.status = 'ok';
      publishState(dev);
    }
    return { device: dev.cfg.id, previous_offset_s: before, offset_s: after };
  });

  /** The path to the central, probed hop by hop; restarted by a reload that changes it. */
  const startUplink = (firstDelayMs?: number) => {
    const uplink = cfg.uplink;
    if (!uplink) return;
    const hysteresis = new Map<string, Set<string>>();
    let lastAnswered: number | null = null;
    let prevStatus: Status = 'unknown';
    const farthest = uplink.hops.at(-1)!;
    const pathName = { id: 'Jalur ke pusat', en: 'Path to the command center' };
    scheduler.add(
      {
        key: `ping:${UPLINK_DEVICE}`,
        protocol: 'ping',
        intervalMs: uplink.interval_s * 1000,
        timeoutMs: uplink.probes * uplink.probe_interval_ms + uplink.timeout_ms + 5000,
        run: async () => {
          const results = await probePath(uplink);
          const ts = Date.now();
          const readings = pathReadings(results, ts);
          if (results.some((h) => h.result.received > 0)) lastAnswered = ts;
          const { status, reasons } = judgePath(results, hysteresis);
          publisher.publish(
            topics.deviceTelemetry(site, UPLINK_DEVICE),
            { v: 1, seq: seq.take(), device: UPLINK_DEVICE, backfill: false, readings },
            ts,
          );
          const end = readings.at(-1)!.values;
          const figures: DeviceStatePayload['figures'] = {};
          for (const k of ['loss_pct', 'latency_ms', 'latency_p50_ms', 'jitter_ms'] as const)
            if (end[k] !== undefined) figures[k] = { value: end[k], ts };
          publisher.publishRetained(topics.deviceState(site, UPLINK_DEVICE), {
            v: 1,
            ts,
            device: UPLINK_DEVICE,
            kind: 'host',
            name: `${pathName.id} / ${pathName.en}`,
            address: farthest.address,
            status,
            reasons,
            last_seen: lastAnswered,
            interval_s: uplink.interval_s,
            figures,
          } satisfies DeviceStatePayload);
          if (status === 'down' && prevStatus !== 'down')
            event(
              'device_unreachable',
              'critical',
              { id: reasons[0]!.id, en: reasons[0]!.en },
              UPLINK_DEVICE,
            );
          if (prevStatus === 'down' && status !== 'down')
            event(
              'device_reachable',
              'info',
              { id: `${pathName.id} tersambung kembali`, en: `${pathName.en} restored` },
              UPLINK_DEVICE,
            );
          prevStatus = status;
        },
        onFailure: (e) => log.warn({ kind: e.kind, err: e.message }, 'uplink probe failed'),
      },
      firstDelayMs,
    );
  };
  startUplink();

  const reloader = new Reloader({
    log,
    config: () => cfg,
    swap: async (next, changes) => {
      const uplinkMoved = uplinkChanged(cfg, next);
      await Promise.all([
        ...changes.removed.map((id) => stopDevice(id, true)),
        ...changes.changed.map((id) => stopDevice(id, false)),
        uplinkMoved ? scheduler.drop(`ping:${UPLINK_DEVICE}`) : Promise.resolve(),
      ]);
      cfg = next;
      // Read now, not somewhere in the first interval: the reload waits for these first polls.
      const fresh = new Set([...changes.added, ...changes.changed]);
      const failed: string[] = [];
      for (const d of next.devices) {
        if (!fresh.has(d.id)) continue;
        try {
          startDevice(d, 0);
        } catch (e) {
          failed.push(`${d.id}: ${(e as Error).message}`);
        }
      }
      if (uplinkMoved && next.uplink) startUplink(0);
      else if (uplinkMoved) publisher.clearRetained(topics.deviceState(site, UPLINK_DEVICE));
      if (failed.length > 0) throw new Error(failed.join('; '));
    },
    look: (ids) =>
      ids.map((id): DeviceLook => {
        const dev = devices.get(id);
        if (!dev) return { id, done: true, errors: {}, answered: false };
        const errors: DeviceLook['errors'] = {};
        let done = true;
        for (const k of dev.jobs) {
          const r = scheduler.result(k);
          if (!r || r.runs === 0) done = false;
          else if (r.lastError) errors[k] = r.lastError;
        }
        return { id, done, errors, answered: dev.lastSeen !== null };
      }),
    before: (id) => {
      const dev = devices.get(id);
      if (!dev) return { answered: false, okJobs: [] };
      const intervalMs = (dev.cfg.interval_s ?? cfg.defaults.interval_s) * 1000;
      return {
        // Answered lately: a device silent for long before the change is not one the change silenced.
        answered: dev.lastSeen !== null && Date.now() - dev.lastSeen <= 3 * intervalMs + 5000,
        okJobs: dev.jobs.filter((k) => {
          const r = scheduler.result(k);
          return r !== undefined && r.runs > 0 && r.lastError === null;
        }),
      };
    },
    event: (type, message, data) =>
      event(type, type === 'config_applied' ? 'info' : 'warning', message, undefined, {
        ...data,
      } as Record<string, unknown>),
  });
  const applyConfig = (text: string, o: ApplyOptions) => reloader.apply(text, o);
  const hands = remoteHands({
    config: () => cfg,
    restartDevice: async (id) => {
      const dev = devices.get(id);
      if (!dev) throw new RequestError('unknown_device', `no device "${id}" at this site`);
      await stopDevice(id, false);
      startDevice(dev.cfg, 0);
      log.info({ device: id }, 'device poller restarted on request');
      return devices.get(id)?.jobs ?? [];
    },
  });
  for (const [op, fn] of Object.entries(hands)) publisher.handle(op, fn);
  publisher.handle('config-push', async (args) => {
    if (typeof args.yaml !== 'string' || args.yaml.length === 0 || args.yaml.length > MAX_CONFIG_BYTES)
      throw new RequestError(
        'bad_args',
        `yaml must be the site.yaml text (at most ${MAX_CONFIG_BYTES} bytes)`,
      );
    if (
      args.version !== undefined &&
      (typeof args.version !== 'string' || !/^[\w.-]{1,40}$/.test(args.version))
    )
      throw new RequestError('bad_args', 'version must be a short word (letters, digits, . _ -)');
    // A push that waited in the broker past the central's patience is not applied: the central
    // has recorded it as unanswered, and a config nobody watches should not change a site.
    if (typeof args.not_after === 'number' && Date.now() > args.not_after)
      throw new RequestError('expired', 'the central stopped waiting for this config; push it again');
    return applyConfig(args.yaml, {
      by: typeof args.by === 'string' ? args.by.slice(0, 64) : 'central',
      ...(typeof args.version === 'string' ? { version: args.version } : {}),
    });
  });

  const healthTimer = setInterval(() => {
    const ps = scheduler.stats();
    const mem = process.memoryUsage();
    publisher.publish(
      topics.gatewayHealth(site),
      {
        v: 1,
        ts: Date.now(),
        uptime_s: Math.round((performance.now() - startedMono) / 1000),
        load1: loadavg()[0] ?? 0,
        mem_rss_bytes: mem.rss,
        mem_free_bytes: freemem(),
        polls: { ok: ps.ok, failed: ps.failed, timeouts: ps.timeouts, backing_off: ps.backing_off },
        outbox: { depth: publisher.outbox.depth, oldest_ts: publisher.outbox.oldestTs },
        clock: clockStatus(),
        dropped: publisher.outbox.dropped,
        rejected: outbox.rejected,
        seq: seq.current,
      },
      Date.now(),
      0,
    );
  }, cfg.health_interval_s * 1000);

  judgeClock();
  const clockTimer = setInterval(judgeClock, 1000);
  // NTP's verdict, re-read now and then (a box may find its time server long after boot).
  const ntpTimer = setInterval(() => {
    void readClock().then((c) => {
      clock = c;
    });
  }, 60_000);
  publisher.start();
  const place = cfg.site.name ?? site;
  event(
    'gateway_started',
    outbox.uncleanStart ? 'warning' : 'info',
    outbox.uncleanStart
      ? {
          id: `Gateway lokasi ${place} menyala kembali setelah mati mendadak (listrik padam, crash atau kill -9); bacaan ≤ ${cfg.outbox.commit_interval_ms} ms terakhir sebelum mati bisa hilang (versi ${VERSION})`,
          en: `Site box ${place} started again after stopping abruptly (power cut, crash or kill -9); readings of the last ≤ ${cfg.outbox.commit_interval_ms} ms before it may be lost (version ${VERSION})`,
        }
      : {
          id: `Gateway lokasi ${place} menyala (versi ${VERSION})`,
          en: `Site box ${place} started (version ${VERSION})`,
        },
    undefined,
    {
      version: VERSION,
      devices: devices.size,
      clock,
      unclean_restart: outbox.uncleanStart,
      seq_first: seq.first,
      seq_origin: seq.origin,
      ...(outbox.lastSeqAtStart !== null ? { seq_committed: outbox.lastSeqAtStart } : {}),
    },
  );
  scheduler.start();
  const longest = Math.max(
    0,
    ...[...devices.values()].map((d) => d.cfg.interval_s ?? cfg.defaults.interval_s),
  );
  const observer = await startObserver({
    log,
    stallAfterS: cfg.metrics.stall_after_s ?? Math.max(300, 3 * longest),
    listen: cfg.metrics.enabled ? { host: cfg.metrics.host, port: cfg.metrics.port } : null,
    figures: () => {
      const ps = scheduler.stats();
      return {
        polls: { ok: ps.ok, failed: ps.failed, timeouts: ps.timeouts, backing_off: ps.backing_off },
        devices: devices.size,
        outbox: {
          depth: outbox.depth,
          oldestTs: outbox.oldestTs,
          dropped: outbox.dropped,
          rejected: outbox.rejected,
        },
        mqtt: {
          connected: publisher.connected,
          connects: publisher.connects,
          sent: publisher.counts.sent,
          acked: publisher.counts.acked,
          backfill: publisher.counts.backfill,
        },
        seq: seq.current,
        clock: { plausible: clockWatch.plausible, holding: publisher.holding },
      };
    },
  });
  log.info({ devices: devices.size, version: VERSION, metrics_port: observer.port }, 'site box running');
  for (const [what, pem] of [
    ['client certificate (mqtt.tls.cert_file)', cfg.mqttTls?.cert],
    ['CA certificate (mqtt.tls.ca_file)', cfg.mqttTls?.ca],
  ] as const) {
    const days = pem ? certificateDaysLeft(pem) : null;
    if (days === null || days >= 30) continue;
    if (days < 0)
      log.error(`the ${what} has expired: the central will refuse it; readings wait in the outbox`);
    else log.warn(`the ${what} expires in ${days} days: ask the central for a new one`);
  }

  // The installer page, on the box's LAN, when site.yaml has an installer section (read at start).
  // A page that cannot start (its port taken) must not stop the monitoring: it is logged instead.
  const installer = cfg.installer
    ? await startInstallerServer({
        config: () => cfg,
        apply: (text, o) => applyConfig(text, o),
        log,
        enroll: async ({ centralUrl, token, by }) => {
          const inst = cfg.installer!;
          const ca = inst.central_ca_file ?? cfg.mqtt.tls?.ca_file;
          const r = await enrollSiteBox({
            centralUrl,
            token,
            configPath: cfg.file,
            ...(ca ? { caFile: pathFrom(cfg.file, ca) } : {}),
            allowHttp: inst.allow_http_enroll,
          });
          log.warn({ site: r.site, by }, 'enrolled from the installer page: restarting as the new site');
          // After the answer has reached the installer's phone.
          setTimeout(() => opts.onRestartNeeded?.(), 500).unref();
          return r;
        },
        commission: {
          run: async ({ by, note, farEnds }) => {
            const report = await commissionSite(cfg, {
              by,
              ...(note ? { note } : {}),
              ...(farEnds ? { farEnds } : {}),
            });
            saveReport(cfg.state_dir, report);
            // Through the outbox like everything else: it reaches the central when the link allows.
            const forCentral = fitForCentral(report, cfg.mqtt.max_packet_bytes);
            const fits = fitsCap(forCentral, cfg.mqtt.max_packet_bytes);
            if (fits) publisher.publish(topics.commissioning(site), forCentral, report.ts, 1);
            else
              log.warn({ id: report.id }, 'commissioning report too large for the central; kept here only');
            log.info({ id: report.id, devices: report.devices.length, by }, 'commissioning report made');
            return {
              id: report.id,
              json: report,
              html: renderCommissioningHtml(report),
              published: fits && publisher.connected,
            };
          },
        },
      }).catch((e: Error) => {
        log.error({ err: e.message, port: cfg.installer?.port }, 'installer page could not start');
        return null;
      })
    : null;

  return {
    applyConfig,
    configVersion: () => reloader.current,
    installerUrl: () => installer?.url ?? null,
    stats: () => ({
      polls: scheduler.stats(),
      seq: seq.current,
      outbox: publisher.outbox.depth,
      connected: publisher.connected,
    }),
    stop: async () => {
      scheduler.stop();
      clearInterval(healthTimer);
      clearInterval(clockTimer);
      clearInterval(ntpTimer);
      await observer.close();
      await installer?.close();
      await publisher.stop();
      for (const dev of devices.values()) dev.session?.close();
    },
  };
}
