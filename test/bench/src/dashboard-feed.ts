// The site boxes of the dashboard benchmark (dashboard.ts starts this process): one MQTT connection
// per site, publishing what a site box publishes (docs/mqtt.md): its retained `online` state, health,
// and for each radio and camera its state and telemetry after every poll, spread evenly over the poll
// interval. Speaks MQTT through the lean codec so that the feed costs little next to the central.
// stdin: "speed <x>" polls x times faster than real (0 pauses), "report" prints {"sent": messages so far}, "end".
// Prints {"ready": true} once every site is connected and its retained state is out.

import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type {
  DeviceStatePayload,
  GatewayHealthPayload,
  GatewayStatePayload,
  TelemetryPayload,
} from '@pantau/contract';
import { leanConnect, publishPacket, wireTopic } from './mqtt-lean.js';

export interface FeedSite {
  id: string;
  name: string;
  password: string;
  radios: string[];
  cameras: string[];
}

export interface FeedConfig {
  port: number;
  sites: FeedSite[];
  /** Real poll intervals (s); "speed" divides them. */
  radioEveryS: number;
  cameraEveryS: number;
  healthEveryS: number;
}

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
/** Messages published so far. */
let sent = 0;

interface Box {
  site: FeedSite;
  socket: Socket;
  seq: number;
  nextId: number;
}

interface Job {
  box: Box;
  /** A device id, or null for the site box's health. */
  device: string | null;
  kind: 'radio' | 'camera' | 'health';
}

function send(box: Box, topic: string, body: unknown, retain = false): void {
  const id = box.nextId;
  box.nextId = id === 65535 ? 1 : id + 1;
  sent++;
  box.socket.write(
    publishPacket(
      wireTopic(`pantau/v1/${box.site.id}/${topic}`),
      id,
      Buffer.from(JSON.stringify(body)),
      retain,
    ),
  );
}

/** A radio that works: a few dB of wobble around its usual level, as after every poll. */
function pollRadio(box: Box, device: string, intervalS: number): void {
  const ts = Date.now();
  const rx = -58 - (device.length % 7) - Math.random() * 1.5;
  const snr = 30 + Math.random() * 2;
  const state: DeviceStatePayload = {
    v: 1,
    ts,
    device,
    kind: 'radio',
    name: `Radio ${device}`,
    address: '10.20.0.2',
    status: 'ok',
    reasons: [],
    last_seen: ts,
    interval_s: intervalS,
    figures: {
      rx_power_dbm: { value: rx, ts },
      snr_db: { value: snr, ts },
      ccq_pct: { value: 96, ts },
      rate_rx_bps: { value: 8_120_000, ts },
    },
    vendor: 'Ubiquiti',
    model: 'Rocket Prism 5AC Gen2',
    firmware: '8.7.11',
  };
  const telemetry: TelemetryPayload = {
    v: 1,
    seq: ++box.seq,
    device,
    backfill: false,
    readings: [
      {
        ts,
        values: {
          uptime_s: 2_592_000 + (Math.floor(ts / 1000) % 100_000),
          frequency_mhz: 5745,
          rx_power_dbm: rx,
          noise_floor_dbm: -96,
          snr_db: snr,
          ccq_pct: 96,
          capacity_tx_bps: 150_000_000,
          capacity_rx_bps: 140_000_000,
          rate_tx_bps: 2_310_000,
          rate_rx_bps: 8_120_000,
        },
      },
      { ts, values: { rssi_raw: 48 }, labels: { chain: '0' } },
      { ts, values: { rssi_raw: 47 }, labels: { chain: '1' } },
      {
        ts,
        values: { if_in_bps: 1_520_000, if_out_bps: 380_000, if_oper_up: 1 },
        labels: { iface: 'ath0' },
      },
    ],
  };
  send(box, `${device}/telemetry`, telemetry);
  send(box, `${device}/state`, state, true);
}

function pollCamera(box: Box, device: string, intervalS: number): void {
  const ts = Date.now();
  const state: DeviceStatePayload = {
    v: 1,
    ts,
    device,
    kind: 'camera',
    name: `Kamera ${device} ${box.site.name}`,
    address: '10.20.0.50',
    status: 'ok',
    reasons: [],
    last_seen: ts,
    interval_s: intervalS,
    figures: { video_fps: { value: 15, ts } },
    camera: {
      onvif: 'UpWithAuth',
      stream: 'up',
      codec: 'h264',
      width: 1920,
      height: 1080,
      fps: 15,
      frozen: false,
      black: false,
      last_good_frame: ts,
      clock_offset_s: 0.4,
    },
    vendor: 'Hikvision',
    model: 'DS-2CD1023G0E-I',
  };
  const telemetry: TelemetryPayload = {
    v: 1,
    seq: ++box.seq,
    device,
    backfill: false,
    readings: [
      {
        ts,
        values: {
          stream_up: 1,
          video_frozen: 0,
          video_black: 0,
          video_fps: 15,
          video_bitrate_bps: 2_048_000,
          clock_offset_s: 0.4,
        },
      },
    ],
  };
  send(box, `${device}/telemetry`, telemetry);
  send(box, `${device}/state`, state, true);
}

function health(box: Box, started: number): void {
  const ts = Date.now();
  const h: GatewayHealthPayload = {
    v: 1,
    ts,
    uptime_s: Math.round((ts - started) / 1000),
    load1: 0.2,
    mem_rss_bytes: 61_734_912,
    mem_free_bytes: 512_000_000,
    polls: { ok: 100, failed: 0, timeouts: 0, backing_off: 0 },
    outbox: { depth: 0, oldest_ts: null },
    clock: { synced: true, source: 'ntp', plausible: true, holding: false },
    dropped: 0,
    seq: box.seq,
  };
  send(box, 'gateway/health', h);
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as FeedConfig;
  const started = Date.now();
  const boxes = await Promise.all(
    c.sites.map(
      (site) =>
        new Promise<Box>((resolve, reject) => {
          const box: Box = { site, socket: null as unknown as Socket, seq: 0, nextId: 1 };
          box.socket = leanConnect(
            c.port,
            '127.0.0.1',
            undefined,
            {
              clientId: `bench-box-${site.id}`,
              username: `gw-${site.id}`,
              password: site.password,
              clean: true,
              keepaliveS: 0,
              will: {
                topic: `pantau/v1/${site.id}/gateway/state`,
                payload: JSON.stringify({ v: 1, state: 'offline', ts: started, site: site.id }),
                qos: 1,
                retain: true,
              },
            },
            {
              connack: (rc) => {
                if (rc !== 0) return reject(new Error(`site box ${site.id} refused: ${rc}`));
                const online: GatewayStatePayload = {
                  v: 1,
                  state: 'online',
                  ts: Date.now(),
                  site: site.id,
                  name: site.name,
                  version: '0.1.0',
                  started_at: started,
                  uptime_s: 0,
                  outbox_depth: 0,
                  clock: { synced: true, source: 'ntp', plausible: true, holding: false },
                  seq_first: 1,
                };
                send(box, 'gateway/state', online, true);
                resolve(box);
              },
            },
          );
        }),
    ),
  );
  const jobs: Job[] = [];
  for (const box of boxes) {
    jobs.push({ box, device: null, kind: 'health' });
    for (const d of box.site.radios) jobs.push({ box, device: d, kind: 'radio' });
    for (const d of box.site.cameras) jobs.push({ box, device: d, kind: 'camera' });
  }
  // Every device once, so that the central knows them all before anything is measured.
  for (const j of jobs) run(j);
  say({ ready: true, devices: jobs.length - boxes.length });

  // Each kind has its own rhythm: per tick, each kind's pointer advances by its share of its list.
  const kinds = (['radio', 'camera', 'health'] as const).map((k) => ({
    list: jobs.filter((j) => j.kind === k),
    everyS: k === 'radio' ? c.radioEveryS : k === 'camera' ? c.cameraEveryS : c.healthEveryS,
    owed: 0,
    at: 0,
  }));
  let speed = 0;
  const TICK_MS = 50;
  setInterval(() => {
    for (const k of kinds) {
      if (k.list.length === 0 || speed === 0) continue;
      k.owed += (k.list.length * speed * TICK_MS) / (k.everyS * 1000);
      for (; k.owed >= 1; k.owed--) {
        run(k.list[k.at]!);
        k.at = (k.at + 1) % k.list.length;
      }
    }
  }, TICK_MS);

  function run(j: Job): void {
    if (j.kind === 'health') health(j.box, started);
    else if (j.kind === 'radio') pollRadio(j.box, j.device!, c.radioEveryS);
    else pollCamera(j.box, j.device!, c.cameraEveryS);
  }

  createInterface({ input: process.stdin }).on('line', (l) => {
    const m = /^speed ([\d.]+)$/.exec(l);
    if (m) speed = Number(m[1]);
    else if (l === 'report') say({ sent });
    else if (l === 'end') process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`dashboard feed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
