// site.yaml: who this site box is, where the central is, and which devices it watches.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  loadRegisterMap,
  REGISTER_MAPS,
  type RegisterMap,
  RegisterMapError,
} from '@pantau/collectors/modbus';
import {
  CONFIG_KINDS,
  duplicateIds,
  LogLevelSchema,
  parseConfig,
  pathFrom,
  readConfigText,
  readPemFile,
  readSecretFile,
  type SemanticIssue,
} from '@pantau/config';
import { isDeviceId } from '@pantau/contract';
import { type Static, Type } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';

const SnmpSchema = Type.Object(
  {
    version: Type.Union([Type.Literal('1'), Type.Literal('2c'), Type.Literal('3')], { default: '2c' }),
    community: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 161 }),
    v3: Type.Optional(
      Type.Object(
        {
          user: Type.String({ minLength: 1 }),
          level: Type.Union([
            Type.Literal('noAuthNoPriv'),
            Type.Literal('authNoPriv'),
            Type.Literal('authPriv'),
          ]),
          auth_protocol: Type.Optional(
            Type.Union([
              Type.Literal('md5'),
              Type.Literal('sha'),
              Type.Literal('sha224'),
              Type.Literal('sha256'),
              Type.Literal('sha384'),
              Type.Literal('sha512'),
            ]),
          ),
          auth_key: Type.Optional(Type.String({ minLength: 8 })),
          priv_protocol: Type.Optional(
            Type.Union([
              Type.Literal('des'),
              Type.Literal('aes'),
              Type.Literal('aes256b'),
              Type.Literal('aes256r'),
            ]),
          ),
          priv_key: Type.Optional(Type.String({ minLength: 8 })),
          context: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    max_repetitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);

const OnvifSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 80 }),
    path: Type.String({ minLength: 1, default: '/onvif/device_service' }),
    https: Type.Boolean({ default: false }),
    username: Type.String({ minLength: 1 }),
    password: Type.Optional(Type.String({ minLength: 1 })),
    password_file: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const CameraSchema = Type.Object(
  {
    /** The stream to watch; default: the ONVIF sub-stream (cheapest to decode on a site box). */
    rtsp_url: Type.Optional(Type.String({ pattern: '^rtsps?://' })),
    stream: Type.Union([Type.Literal('sub'), Type.Literal('main')], { default: 'sub' }),
    /** Seconds of video decoded per probe. */
    sample_s: Type.Integer({ minimum: 2, maximum: 30, default: 4 }),
    transport: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
    thumbnail_interval_s: Type.Integer({ minimum: 30, maximum: 86400, default: 600 }),
    thumbnail_max_width: Type.Integer({ minimum: 64, maximum: 1280, default: 320 }),
    thumbnail_max_bytes: Type.Integer({ minimum: 4000, maximum: 150000, default: 64000 }),
    /** A camera clock further off than this raises "clock drift". */
    clock_warn_s: Type.Integer({ minimum: 1, maximum: 86400, default: 30 }),
    /** Consecutive probes that must agree before frozen/black/offline is reported (debounce). */
    confirm_polls: Type.Integer({ minimum: 1, maximum: 10, default: 2 }),
  },
  { additionalProperties: false },
);

const ModbusSchema = Type.Object(
  {
    transport: Type.Union([Type.Literal('tcp'), Type.Literal('rtu')], { default: 'tcp' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }),
    /** RTU: the serial device, e.g. /dev/ttyUSB0. */
    path: Type.Optional(Type.String({ minLength: 1 })),
    baud_rate: Type.Integer({ minimum: 1200, maximum: 115200, default: 9600 }),
    unit_id: Type.Integer({ minimum: 0, maximum: 247, default: 1 }),
    /** A built-in register map (ups-generic, epever-tracer, eastron-sdm) or a map file (YAML). */
    map: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
const WorkingHoursSchema = Type.Object(
  {
    /** ISO weekdays, 1 = Monday … 7 = Sunday. */
    days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), {
      minItems: 1,
      maxItems: 7,
      default: [1, 2, 3, 4, 5],
    }),
    start: HHMM,
    end: HHMM,
  },
  { additionalProperties: false },
);

const ZkSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 4370 }),
    transport: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
    /** The terminal's numeric comm key; better in comm_key_file. */
    comm_key: Type.Optional(Type.Integer({ minimum: 0, maximum: 999999 })),
    comm_key_file: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const TerminalSchema = Type.Object(
  {
    clock_warn_s: Type.Integer({ minimum: 1, maximum: 86400, default: 60 }),
    fill_warn_pct: Type.Number({ minimum: 1, maximum: 100, default: 80 }),
    fill_critical_pct: Type.Number({ minimum: 1, maximum: 100, default: 95 }),
    no_punch_grace_min: Type.Integer({ minimum: 0, maximum: 600, default: 60 }),
    /** This terminal's agency hours, when they differ from the site's. */
    working_hours: Type.Optional(WorkingHoursSchema),
  },
  { additionalProperties: false },
);

const DeviceSchema = Type.Object(
  {
    id: Type.String({ format: 'slug' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    /** Where it is, in words an operator knows ("Pasar Sentral, tiang depan"). */
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** Emergency and basic-service points first (the backbone's site priorities). */
    priority: Type.Optional(
      Type.Union([Type.Literal('emergency'), Type.Literal('basic'), Type.Literal('normal')]),
    ),
    kind: Type.Union(
      [
        Type.Literal('radio'),
        Type.Literal('host'),
        Type.Literal('camera'),
        Type.Literal('power'),
        Type.Literal('terminal'),
      ],
      { default: 'radio' },
    ),
    address: Type.String({ format: 'host' }),
    interval_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 60000 })),
    snmp: Type.Optional(SnmpSchema),
    onvif: Type.Optional(OnvifSchema),
    modbus: Type.Optional(ModbusSchema),
    zk: Type.Optional(ZkSchema),
    terminal: Type.Optional(TerminalSchema),
    camera: Type.Optional(CameraSchema),
    ping: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({ default: true }),
          count: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const HopSchema = Type.Object(
  {
    id: Type.String({ format: 'slug' }),
    address: Type.String({ format: 'host' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    /** The backbone link (backbone.yaml) this hop is reached through. */
    link: Type.Optional(Type.String({ format: 'slug' })),
  },
  { additionalProperties: false },
);

/** The site box's path to the command center, probed hop by hop in bursts (SmokePing-style). */
const UplinkSchema = Type.Object(
  {
    interval_s: Type.Integer({ minimum: 10, maximum: 86400, default: 300 }),
    probes: Type.Integer({ minimum: 3, maximum: 100, default: 20 }),
    // iputils refuses intervals below 200 ms to unprivileged users.
    probe_interval_ms: Type.Integer({ minimum: 200, maximum: 10000, default: 500 }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 10000, default: 2000 }),
    hops: Type.Array(HopSchema, { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);

/** The disk outbox (state_dir/outbox.db): what waits for the central, bounded, replayed in order. */
const OutboxSchema = Type.Object(
  {
    /** Pages the waiting messages may occupy in outbox.db; beyond, the oldest are dropped (counted). */
    max_bytes: Type.Integer({ minimum: 65536, default: 1024 * 1024 * 1024 }),
    /** Messages whose reading is older than this are dropped (counted). */
    max_age_h: Type.Number({ exclusiveMinimum: 0, maximum: 8760, default: 168 }),
    /** Group commit: one transaction (one fsync) per this many milliseconds… */
    commit_interval_ms: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
    /** …or as soon as this many messages wait. */
    commit_max_messages: Type.Integer({ minimum: 1, maximum: 100000, default: 500 }),
    /** full: every commit is fsynced (a power cut loses at most the last window); normal: the kernel's writeback. */
    sync: Type.Union([Type.Literal('full'), Type.Literal('normal')], { default: 'full' }),
    /** Backlog messages per second sent on top of the live rate after an outage; 0 = uncapped. */
    replay_rate_per_s: Type.Number({ minimum: 0, maximum: 100000, default: 50 }),
    /** Unacknowledged QoS 1 messages in flight at once. */
    inflight: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
    /** A message first sent this long after it was written goes out with backfill: true. */
    backfill_after_s: Type.Number({ minimum: 0, maximum: 86400, default: 30 }),
  },
  { additionalProperties: false, default: {} },
);

/** The site box's own clock (boxes without a real-time clock boot in 1970 until NTP sets them). */
const ClockSchema = Type.Object(
  {
    /**
     * After start, readings wait in the outbox at most this long for the clock to be set (a time
     * before 2025, or NTP not yet synchronised in the first 10 minutes after boot), so their times
     * can be corrected; then they go as they are and the central sets them aside as suspect.
     */
    wait_for_sync_s: Type.Integer({ minimum: 0, maximum: 86400, default: 300 }),
    /** A step of the clock at least this big moves the times of what still waits in the outbox. */
    correct_over_s: Type.Number({ minimum: 2, maximum: 86400, default: 60 }),
  },
  { additionalProperties: false, default: {} },
);

/** The site box's own /metrics and /healthz, and the systemd watchdog. */
const MetricsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** Localhost by default: open it to the monitoring server deliberately. */
    host: Type.String({ format: 'host', default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9310 }),
    /**
     * Unhealthy (503 on /healthz, no more watchdog pings) when no poll has finished for this long;
     * default: 3 × the longest device interval, at least 300 s.
     */
    stall_after_s: Type.Optional(Type.Integer({ minimum: 10, maximum: 86400 })),
  },
  { additionalProperties: false, default: {} },
);

/** The installer page on the box's LAN (installer/server.ts): off unless this section is present. */
const InstallerSchema = Type.Object(
  {
    /** The box's LAN address the installer's phone reaches; not the uplink's. */
    host: Type.String({ format: 'host', default: '0.0.0.0' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
    /** The PIN's scrypt hash, written by `pantau-gateway installer-pin`. */
    pin_file: Type.String({ minLength: 1 }),
    /** Minutes a login lasts without use. */
    session_idle_min: Type.Integer({ minimum: 1, maximum: 720, default: 30 }),
    /**
     * The CA that signed the central dashboard's certificate, for enrolling from the page (default:
     * mqtt.tls.ca_file; else the system's CAs).
     */
    central_ca_file: Type.Optional(Type.String({ minLength: 1 })),
    /** Let the page enroll over plain http:// (the password comes back in the answer): a test bench only. */
    allow_http_enroll: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export const GatewayConfigSchema = Type.Object(
  {
    site: Type.Object(
      {
        id: Type.String({ format: 'slug' }),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
        /** The site's IANA zone: terminals keep local wall-clock time without a zone. */
        timezone: Type.String({ minLength: 1, default: 'Asia/Makassar' }),
        /** The agency's working hours here, for "no punch since…" on attendance terminals. */
        working_hours: Type.Object(
          {
            days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), {
              minItems: 1,
              maxItems: 7,
              default: [1, 2, 3, 4, 5],
            }),
            start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '07:30' }),
            end: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '16:00' }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        urls: Type.Array(Type.String({ format: 'mqtt-url' }), { minItems: 1 }),
        username: Type.String({ minLength: 1 }),
        password: Type.Optional(Type.String({ minLength: 1 })),
        password_file: Type.Optional(Type.String({ minLength: 1 })),
        keepalive_s: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
        /** The central's max_packet_bytes: bigger messages are refused here so they cannot block the queue. */
        max_packet_bytes: Type.Integer({ minimum: 1024, maximum: 268435455, default: 262144 }),
        /** For mqtts:// and wss:// URLs: the central's certificate is always verified. */
        tls: Type.Optional(
          Type.Object(
            {
              /** The CA that signed the broker's certificate; default: the system's trusted CAs. */
              ca_file: Type.Optional(Type.String({ minLength: 1 })),
              /** This box's client certificate and key: login without a password. */
              cert_file: Type.Optional(Type.String({ minLength: 1 })),
              key_file: Type.Optional(Type.String({ minLength: 1 })),
              /** The name to check the broker's certificate against, when the URL holds an IP address. */
              servername: Type.Optional(Type.String({ format: 'hostname' })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    state_dir: Type.String({ minLength: 1, default: '/var/lib/pantau/gateway' }),
    log_level: LogLevelSchema,
    defaults: Type.Object(
      {
        interval_s: Type.Integer({ minimum: 1, maximum: 86400, default: 30 }),
        timeout_ms: Type.Integer({ minimum: 100, maximum: 60000, default: 2000 }),
        retries: Type.Integer({ minimum: 0, maximum: 5, default: 1 }),
        jitter_pct: Type.Number({ minimum: 0, maximum: 50, default: 10 }),
        max_backoff_s: Type.Integer({ minimum: 1, maximum: 86400, default: 600 }),
      },
      { additionalProperties: false, default: {} },
    ),
    concurrency: Type.Object(
      {
        snmp: Type.Integer({ minimum: 1, maximum: 256, default: 16 }),
        ping: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
        camera: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
        /** ffmpeg processes at once: each decodes video, the heaviest thing a site box does. */
        ffmpeg: Type.Integer({ minimum: 1, maximum: 8, default: 2 }),
      },
      { additionalProperties: false, default: {} },
    ),
    health_interval_s: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
    outbox: OutboxSchema,
    clock: ClockSchema,
    metrics: MetricsSchema,
    devices: Type.Array(DeviceSchema, { default: [] }),
    uplink: Type.Optional(UplinkSchema),
    installer: Type.Optional(InstallerSchema),
  },
  { additionalProperties: false },
);

export type GatewayConfig = Static<typeof GatewayConfigSchema> & {
  password: string;
  file: string;
  /** Camera passwords read from their files, by device id. */
  cameraPasswords: Map<string, string>;
  /** Modbus register maps, by device id. */
  registerMaps: Map<string, RegisterMap>;
  /** Terminal comm keys (from their files), by device id. */
  commKeys: Map<string, number>;
  /** PEM contents of mqtt.tls's files. */
  mqttTls?: MqttTls;
};

export interface MqttTls {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}
export type DeviceConfig = Static<typeof DeviceSchema>;
export type UplinkConfig = Static<typeof UplinkSchema>;
export type OutboxConfig = Static<typeof OutboxSchema>;
export type InstallerConfig = Static<typeof InstallerSchema>;

function semantic(c: Static<typeof GatewayConfigSchema>): SemanticIssue[] {
  const issues = duplicateIds(c.devices, ['devices'], 'device id');
  c.devices.forEach((d, i) => {
    if (!isDeviceId(d.id) || d.id === 'uplink')
      issues.push({ path: ['devices', i, 'id'], message: `"${d.id}" is reserved for the site's own topics` });
    const s = d.snmp;
    if (s?.version === '3' && !s.v3)
      issues.push({
        path: ['devices', i, 'snmp'],
        message: 'SNMP version 3 needs a v3 block (user, level, keys)',
      });
    if (s?.v3 && s.v3.level !== 'noAuthNoPriv' && !s.v3.auth_key)
      issues.push({ path: ['devices', i, 'snmp', 'v3'], message: `level ${s.v3.level} needs auth_key` });
    if (s?.v3?.level === 'authPriv' && !s.v3.priv_key)
      issues.push({ path: ['devices', i, 'snmp', 'v3'], message: 'level authPriv needs priv_key' });
    if (d.kind === 'camera' && !d.onvif && !d.camera?.rtsp_url)
      issues.push({
        path: ['devices', i],
        message: 'a camera needs onvif (to find its stream) or camera.rtsp_url',
      });
    if (d.kind !== 'camera' && (d.onvif || d.camera))
      issues.push({
        path: ['devices', i, d.camera ? 'camera' : 'onvif'],
        message: 'onvif and camera settings need kind: camera',
      });
    if ((d.zk || d.terminal) && d.kind !== 'terminal')
      issues.push({
        path: ['devices', i, d.zk ? 'zk' : 'terminal'],
        message: 'zk and terminal settings need kind: terminal',
      });
    if (d.terminal && d.terminal.fill_critical_pct <= d.terminal.fill_warn_pct)
      issues.push({
        path: ['devices', i, 'terminal', 'fill_critical_pct'],
        message: 'must be above fill_warn_pct',
      });
    if (d.modbus && d.kind !== 'power')
      issues.push({ path: ['devices', i, 'modbus'], message: 'modbus settings need kind: power' });
    if (d.modbus?.transport === 'rtu' && !d.modbus.path)
      issues.push({
        path: ['devices', i, 'modbus'],
        message: 'RTU needs path (the serial device, e.g. /dev/ttyUSB0)',
      });
    if (d.kind === 'power' && !d.modbus && !d.snmp)
      issues.push({ path: ['devices', i], message: 'a power device needs snmp (a UPS) or modbus' });
    if (d.onvif && !d.onvif.password && !d.onvif.password_file)
      issues.push({ path: ['devices', i, 'onvif'], message: 'needs password_file (or password)' });
  });
  if (c.uplink) issues.push(...duplicateIds(c.uplink.hops, ['uplink', 'hops'], 'hop id'));
  try {
    new Intl.DateTimeFormat('en', { timeZone: c.site.timezone });
  } catch {
    issues.push({
      path: ['site', 'timezone'],
      message: `unknown time zone "${c.site.timezone}" (e.g. Asia/Makassar, Asia/Jakarta)`,
    });
  }
  const tls = c.mqtt.tls;
  if (!c.mqtt.password && !c.mqtt.password_file && !tls?.cert_file)
    issues.push({ path: ['mqtt'], message: 'needs password_file (or password, or tls.cert_file)' });
  if (tls && (tls.cert_file === undefined) !== (tls.key_file === undefined))
    issues.push({ path: ['mqtt', 'tls'], message: 'cert_file and key_file go together' });
  if (tls && !c.mqtt.urls.some((u) => /^(mqtts|tls|wss):/.test(u)))
    issues.push({ path: ['mqtt', 'tls'], message: 'is set, but no URL uses mqtts:// or wss://' });
  if (tls?.cert_file && !c.mqtt.urls.every((u) => /^(mqtts|tls|wss):/.test(u)))
    issues.push({
      path: ['mqtt', 'urls'],
      message: 'with a client certificate every URL must be mqtts:// or wss://',
    });
  return issues;
}

/** Loads site.yaml; relative paths resolve against its folder; the MQTT password is read from its file. */
export function loadGatewayConfig(file: string): GatewayConfig {
  return parseGatewayConfig(readConfigText(file), file);
}

/**
 * Checks site.yaml text as the box would, but without the files it names (secrets, map files): what
 * the central can tell before it sends a config to a box that holds those files.
 */
export function checkGatewayConfigText(text: string, file: string): Static<typeof GatewayConfigSchema> {
  return parseConfig(text, file, GatewayConfigSchema, { check: semantic, kind: CONFIG_KINDS.site });
}

/**
 * site.yaml text as if it were `file` (relative paths resolve against its folder, errors name it):
 * what a reload checks before it writes anything.
 */
export function parseGatewayConfig(text: string, file: string): GatewayConfig {
  const registerMaps = new Map<string, RegisterMap>();
  /** Register maps named in site.yaml, built in or from a file beside it; errors point at the line. */
  const loadMaps = (c: Static<typeof GatewayConfigSchema>): SemanticIssue[] => {
    const issues: SemanticIssue[] = [];
    c.devices.forEach((d, i) => {
      if (!d.modbus) return;
      const builtIn = REGISTER_MAPS[d.modbus.map];
      if (builtIn) {
        registerMaps.set(d.id, builtIn);
        return;
      }
      const mapFile = pathFrom(file, d.modbus.map);
      try {
        registerMaps.set(d.id, loadRegisterMap(parseYaml(readFileSync(mapFile, 'utf8')), mapFile));
      } catch (e) {
        const detail =
          e instanceof RegisterMapError
            ? e.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')
            : (e as Error).message;
        issues.push({
          path: ['devices', i, 'modbus', 'map'],
          message: `neither a built-in map (${Object.keys(REGISTER_MAPS).join(', ')}) nor a valid map file: ${detail}`,
        });
      }
    });
    return issues;
  };
  const cfg = parseConfig(text, file, GatewayConfigSchema, {
    kind: CONFIG_KINDS.site,
    check: (c) => [...semantic(c), ...loadMaps(c)],
  });
  const abs = (p: string) => pathFrom(file, p);
  const password = cfg.mqtt.password_file
    ? readSecretFile(file, 'mqtt.password_file', cfg.mqtt.password_file)
    : (cfg.mqtt.password ?? '');
  const t = cfg.mqtt.tls;
  const mqttTls: MqttTls | undefined = t
    ? {
        ...(t.ca_file ? { ca: readPemFile(file, 'mqtt.tls.ca_file', t.ca_file, 'certificate').pem } : {}),
        ...(t.cert_file
          ? { cert: readPemFile(file, 'mqtt.tls.cert_file', t.cert_file, 'certificate').pem }
          : {}),
        ...(t.key_file ? { key: readPemFile(file, 'mqtt.tls.key_file', t.key_file, 'private key').pem } : {}),
        ...(t.servername ? { servername: t.servername } : {}),
      }
    : undefined;
  const commKeys = new Map<string, number>();
  cfg.devices.forEach((d, i) => {
    if (d.zk?.comm_key_file) {
      const raw = readSecretFile(file, `devices[${i}].zk.comm_key_file`, d.zk.comm_key_file);
      commKeys.set(d.id, Number(raw));
    } else if (d.zk?.comm_key !== undefined) commKeys.set(d.id, d.zk.comm_key);
  });
  const cameraPasswords = new Map<string, string>();
  cfg.devices.forEach((d, i) => {
    if (d.onvif)
      cameraPasswords.set(
        d.id,
        d.onvif.password_file
          ? readSecretFile(file, `devices[${i}].onvif.password_file`, d.onvif.password_file)
          : (d.onvif.password ?? ''),
      );
  });
  return {
    ...cfg,
    state_dir: abs(cfg.state_dir),
    password,
    file: resolve(file),
    cameraPasswords,
    registerMaps,
    commKeys,
    ...(mqttTls ? { mqttTls } : {}),
  };
}
