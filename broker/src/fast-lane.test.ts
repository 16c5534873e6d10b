// The telemetry fast lane against a real broker and real sockets: packets written by hand, so that
// the test decides how they fall into TCP segments (several in one write, one split over many).

import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPacket, publishPacket, wireTopic } from '../../test/bench/src/mqtt-lean.js';
import { tempDir, waitFor } from '../../test/support/procs.js';
import { type RunningBroker, startBroker } from './broker.js';
import type { BrokerConfig, Limits } from './config.js';
import { Authenticator, addGateway, addReader, loadCredentials } from './credentials.js';
import { encodePublish } from './fast-delivery.js';
import { FastLane } from './fast-lane.js';
import { Guard } from './guard.js';
import { startListeners } from './listeners.js';

const silent = pino({ level: 'silent' });

/** A site box speaking MQTT byte by byte: what it is sent back, packet by packet. */
class RawBox {
  readonly acks: number[] = [];
  closed = false;
  private pending = Buffer.alloc(0);
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      // Everything the broker sends here fits a one-byte remaining length.
      while (this.pending.length >= 2 && this.pending.length >= 2 + this.pending[1]!) {
        const type = this.pending[0]! >> 4;
        if (type === 4) this.acks.push(this.pending.readUInt16BE(2));
        if (type === 2) this.onConnack(this.pending[3]!);
        this.pending = this.pending.subarray(2 + this.pending[1]!);
      }
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }
  private onConnack: (rc: number) => void = () => {};

  static connect(port: number, username: string, password: string, keepaliveS = 0): Promise<RawBox> {
    return new Promise((resolve, reject) => {
      const box = new RawBox(connect({ port, host: '127.0.0.1' }));
      box.onConnack = (rc) => (rc === 0 ? resolve(box) : reject(new Error(`CONNACK ${rc}`)));
      box.socket.once('close', () => reject(new Error('closed before CONNACK')));
      box.socket.write(
        connectPacket({
          clientId: `raw-${username}-${Math.random()}`,
          username,
          password,
          clean: true,
          keepaliveS,
        }),
      );
    });
  }

  write(...packets: Buffer[]): void {
    this.socket.write(Buffer.concat(packets));
  }
}

const telemetry = (seq: number, device = 'ptp-1') =>
  Buffer.from(
    JSON.stringify({
      v: 1,
      seq,
      device,
      backfill: false,
      readings: [{ ts: Date.now(), values: { snr_db: 30 + seq } }],
    }),
  );
const publish = (
  topic: string,
  id: number,
  payload: Buffer,
  opts: { qos?: 0 | 1; retain?: boolean } = {},
) => {
  const p = publishPacket(wireTopic(topic), id, payload, opts.retain ?? false);
  if (opts.qos !== 0) return p;
  // QoS 0 carries no packet id: the flags say 0 and the two id bytes go (the remaining length is
  // kept below 16384 here: two bytes of 7 bits).
  const body = Buffer.concat([wireTopic(topic), payload]);
  return Buffer.concat([Buffer.from([0x30, (body.length & 0x7f) | 0x80, body.length >> 7]), body]);
};
const TOPIC = 'pantau/v1/psc/ptp-1/telemetry';

async function credentials(dir: string): Promise<string> {
  const cred = join(dir, 'credentials.yaml');
  await addGateway(cred, 'psc', 'gw-psc', 'gw-psc-pass');
  await addReader(cred, 'reader', 'reader-pass');
  return cred;
}

/** A broker with the fast lane on or off, its accounts and store in `dir`. */
async function laneBroker(
  dir: string,
  fastLane: boolean,
  limits?: Partial<Limits>,
  flow?: Pick<BrokerConfig['mqtt'], 'max_inflight' | 'max_queued'>,
) {
  return startBroker(
    {
      mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 65536, fast_lane: fastLane, ...flow },
      credentials_file: await credentials(dir),
      store: { kind: 'sqlite', path: join(dir, 'c.db') },
      ...(limits ? { limits } : {}),
      log_level: 'fatal',
    } as BrokerConfig,
    { logger: silent },
  );
}

/** A lane broker for the tests of one describe block: started before them, closed and removed after. */
function laneBrokerFor(
  name: string,
  fastLane: boolean,
  limits?: Partial<Limits>,
  flow?: Pick<BrokerConfig['mqtt'], 'max_inflight' | 'max_queued'>,
): { broker: RunningBroker } {
  const dir = tempDir(name);
  const held = {} as { broker: RunningBroker };
  beforeAll(async () => {
    held.broker = await laneBroker(dir.path, fastLane, limits, flow);
  });
  afterAll(async () => {
    await held.broker?.close();
    dir.remove();
  });
  return held;
}

/** A reader subscribed to everything at QoS 1: the seq numbers it got, by topic, in order. */
async function reader(port: number) {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: 'reader',
    password: 'reader-pass',
    reconnectPeriod: 0,
  });
  const got = new Map<string, number[]>();
  c.on('message', (topic, payload) => {
    const list = got.get(topic) ?? [];
    got.set(topic, list);
    list.push((JSON.parse(payload.toString()) as { seq: number }).seq);
  });
  await c.subscribeAsync('pantau/v1/#', { qos: 1 });
  return { c, got };
}

describe('telemetry fast lane', () => {
  const dir = tempDir('fast-lane');
  let broker: RunningBroker;
  let read: Awaited<ReturnType<typeof reader>>;
  let seq = 0;
  beforeAll(async () => {
    broker = await laneBroker(dir.path, true);
    read = await reader(broker.port);
  });
  afterAll(async () => {
    await read?.c.endAsync();
    await broker?.close();
    dir.remove();
  });

  it('acknowledges, stores and delivers in order the telemetry packets of one TCP write', async () => {
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const before = broker.stats();
    const seqs = [++seq, ++seq, ++seq];
    box.write(...seqs.map((s, k) => publish(TOPIC, 100 + k, telemetry(s))));
    await waitFor('three acknowledgements', () => box.acks.length === 3, 5000);
    expect(box.acks).toEqual([100, 101, 102]);
    expect(broker.stats().fastLaneMessages - before.fastLaneMessages).toBe(3);
    expect(broker.stats().batches - before.batches).toBe(3);
    await waitFor('delivered', () => (read.got.get(TOPIC) ?? []).length >= 3, 5000);
    expect(read.got.get(TOPIC)).toEqual(seqs);
    box.socket.destroy();
  });

  it('leaves other packets to aedes, in order, and the rest of their write with them', async () => {
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const before = broker.stats();
    const [a, b, c] = [++seq, ++seq, ++seq];
    const event = Buffer.from(JSON.stringify({ v: 1, seq: ++seq, ts: Date.now(), type: 'door_open' }));
    box.write(
      publish(TOPIC, 1, telemetry(a)),
      publish('pantau/v1/psc/events', 2, event),
      publish(TOPIC, 3, telemetry(b)),
      publish(TOPIC, 4, telemetry(c)),
    );
    await waitFor('four acknowledgements', () => box.acks.length === 4, 5000);
    expect(box.acks.sort()).toEqual([1, 2, 3, 4]);
    await waitFor('all stored', () => broker.stats().batches - before.batches === 3, 5000);
    expect(broker.stats().events - before.events).toBe(1);
    // The first went by the lane; the event and what followed it in the same write by aedes.
    expect(broker.stats().fastLaneMessages - before.fastLaneMessages).toBe(1);
    await waitFor('delivered', () => read.got.get(TOPIC)?.includes(c), 5000);
    expect(read.got.get(TOPIC)!.slice(-3)).toEqual([a, b, c]);

    // QoS 0 (nothing to acknowledge) is aedes's too.
    box.write(publish(TOPIC, 0, telemetry(++seq), { qos: 0 }));
    await waitFor('stored', () => broker.stats().batches - before.batches === 4, 5000);
    expect(broker.stats().fastLaneMessages - before.fastLaneMessages).toBe(1);
    box.socket.destroy();
  });

  it('puts together a packet that arrives a few bytes at a time', async () => {
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const before = broker.stats();
    const s = ++seq;
    const bytes = Buffer.concat([publish(TOPIC, 7, telemetry(s)), publish(TOPIC, 8, telemetry(++seq))]);
    for (let at = 0; at < bytes.length; at += 13) {
      box.write(bytes.subarray(at, at + 13));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor('acknowledged', () => box.acks.length === 2, 5000);
    expect(box.acks).toEqual([7, 8]);
    expect(broker.stats().fastLaneMessages - before.fastLaneMessages).toBe(2);
    expect(broker.stats().batches - before.batches).toBe(2);
    box.socket.destroy();
  });

  it("refuses (and audits) another site's topic and retained telemetry, as aedes's path does", async () => {
    for (const [topic, retain] of [
      ['pantau/v1/damkar/ptp-1/telemetry', false],
      [TOPIC, true],
    ] as const) {
      const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
      const before = broker.stats();
      box.write(publish(topic, 5, telemetry(++seq), { retain }));
      await waitFor('connection closed', () => box.closed, 5000);
      expect(box.acks).toEqual([]);
      expect(broker.stats().denied - before.denied).toBe(1);
      expect(broker.stats().batches).toBe(before.batches);
      expect(broker.stats().fastLaneMessages).toBe(before.fastLaneMessages);
    }
  });

  it('keeps a box alive by its telemetry alone (the keep-alive aedes no longer sees)', async () => {
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass', 1);
    const before = broker.stats();
    // aedes closes a client silent for 1.5 keep-alives (1.5 s here).
    for (let k = 0; k < 8; k++) {
      box.write(publish(TOPIC, 20 + k, telemetry(++seq)));
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(box.closed).toBe(false);
    expect(box.acks).toHaveLength(8);
    expect(broker.stats().fastLaneMessages - before.fastLaneMessages).toBe(8);
    box.socket.destroy();
  });

  it("takes a clean reader's acknowledgements (aedes keeps nothing to clear for it) and leaves a persistent reader's to aedes", async () => {
    const acked = new Map<string, number>();
    const onAck = (_packet: unknown, client: { id: string }) =>
      acked.set(client.id, (acked.get(client.id) ?? 0) + 1);
    broker.aedes.on('ack', onAck);
    const persistent = () => {
      const got: number[] = [];
      const c = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
        username: 'reader',
        password: 'reader-pass',
        clientId: 'keeper',
        clean: false,
        reconnectPeriod: 0,
      });
      c.on('message', (_t, payload) => got.push((JSON.parse(payload.toString()) as { seq: number }).seq));
      return { c, got, up: new Promise((r) => c.once('connect', r)) };
    };
    const keeper = persistent();
    await keeper.up;
    // TOPIC had no persistent subscriber when earlier tests published on it: the lane must forget
    // that (fast-publish.ts), or what comes while the keeper is away below is never queued for it.
    await keeper.c.subscribeAsync(TOPIC, { qos: 1 });
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const fast = broker.stats().fastDeliveries;
    const first = [++seq, ++seq, ++seq];
    box.write(...first.map((s, k) => publish(TOPIC, 40 + k, telemetry(s))));
    await waitFor(
      'delivered to both readers',
      () => keeper.got.length === 3 && read.got.get(TOPIC)?.includes(first[2]!),
      5000,
    );
    await waitFor("the persistent reader's acknowledgements at aedes", () => acked.get('keeper') === 3, 5000);
    expect(acked.get(read.c.options.clientId!)).toBeUndefined();
    // Written in one buffer for the clean reader only; aedes wrote the persistent reader's.
    expect(broker.stats().fastDeliveries - fast).toBe(3);

    // What the persistent reader acknowledged is gone from its session: after a reconnect it gets
    // only what came while it was away.
    await keeper.c.endAsync();
    const away = [++seq, ++seq];
    box.write(...away.map((s, k) => publish(TOPIC, 50 + k, telemetry(s))));
    await waitFor('acknowledged to the box', () => box.acks.length === 5, 5000);
    const back = persistent();
    await waitFor('the queued messages', () => back.got.length === 2, 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(back.got).toEqual(away);
    broker.aedes.off('ack', onAck);
    await back.c.endAsync();
    box.socket.destroy();
  });

  it("writes a clean reader's deliveries itself: a retained one with its flag, a QoS 0 one at QoS 0", async () => {
    const before = broker.stats();
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const s = ++seq;
    box.write(publish(TOPIC, 60, telemetry(s)));
    await waitFor('delivered', () => read.got.get(TOPIC)?.includes(s), 5000);
    expect(broker.stats().fastDeliveries - before.fastDeliveries).toBe(1);

    // A retained state, delivered when a new clean reader subscribes: retained on the wire.
    const state = 'pantau/v1/psc/gateway/state';
    const body = Buffer.from(JSON.stringify({ v: 1, state: 'online', ts: Date.now(), site: 'psc' }));
    box.write(publish(state, 61, body, { retain: true }));
    await waitFor('acknowledged', () => box.acks.includes(61), 5000);
    const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'reader',
      password: 'reader-pass',
      reconnectPeriod: 0,
    });
    const retained = new Promise<mqttPacket.IPublishPacket>((r) =>
      late.once('message', (_t, _p, pk) => r(pk)),
    );
    const fast = broker.stats().fastDeliveries;
    await late.subscribeAsync(state, { qos: 1 });
    const pk = await retained;
    expect(pk).toMatchObject({ retain: true, qos: 1, topic: state });
    expect(pk.payload.toString()).toBe(body.toString());
    expect(broker.stats().fastDeliveries - fast).toBe(1);

    // A QoS 0 message (an event, taken by aedes) goes to both clean readers at QoS 0, written here.
    const ev = 'pantau/v1/psc/events';
    const evBody = Buffer.from(JSON.stringify({ v: 1, seq: ++seq, ts: Date.now(), type: 'door_open' }));
    const got = new Promise<mqttPacket.IPublishPacket>((r) => late.once('message', (_t, _p, p) => r(p)));
    await late.subscribeAsync(ev, { qos: 1 });
    const fast0 = broker.stats().fastDeliveries;
    box.write(publish(ev, 0, evBody, { qos: 0 }));
    expect(await got).toMatchObject({ qos: 0, topic: ev });
    await waitFor('both readers', () => broker.stats().fastDeliveries - fast0 === 2, 5000);
    await late.endAsync();
    box.socket.destroy();
  });

  it('stops delivering to a reader once it unsubscribes (the topic matched before, and remembered)', async () => {
    const r = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'reader',
      password: 'reader-pass',
      reconnectPeriod: 0,
    });
    const got: number[] = [];
    r.on('message', (_t, payload) => got.push((JSON.parse(payload.toString()) as { seq: number }).seq));
    await r.subscribeAsync(TOPIC, { qos: 1 });
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const s1 = ++seq;
    box.write(publish(TOPIC, 70, telemetry(s1)));
    await waitFor('delivered while subscribed', () => got.includes(s1), 5000);
    await r.unsubscribeAsync(TOPIC);
    const s2 = ++seq;
    box.write(publish(TOPIC, 71, telemetry(s2)));
    // The other reader (subscribed to everything) gets it; this one must not.
    await waitFor('delivered to the other reader', () => read.got.get(TOPIC)?.includes(s2), 5000);
    await new Promise((res) => setTimeout(res, 200));
    expect(got).toEqual([s1]);
    await r.endAsync();
    box.socket.destroy();
  });

  it('leaves a malformed packet length to aedes, which closes the connection', async () => {
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    box.write(Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await waitFor('connection closed', () => box.closed, 5000);
  });
});

/** Limits no test below reaches: a box may send its whole burst at once. */
const UNTHROTTLED: Partial<Limits> = { publish_rate_per_s: 100_000, publish_burst: 100_000 };

/** Sends sequence numbers 1…n on TOPIC in one write; returns them. */
function flood(box: RawBox, n: number, payload: (seq: number) => Buffer = telemetry): number[] {
  const seqs = Array.from({ length: n }, (_, k) => k + 1);
  box.write(...seqs.map((s) => publish(TOPIC, s, payload(s))));
  return seqs;
}

/** A reader that subscribes to TOPIC and then stops reading its socket: what it got once it reads again. */
async function stalledReader(port: number, qos: 0 | 1) {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: 'reader',
    password: 'reader-pass',
    reconnectPeriod: 0,
    keepalive: 0,
  });
  const got: number[] = [];
  c.on('message', (_t, payload) => got.push((JSON.parse(payload.toString()) as { seq: number }).seq));
  await c.subscribeAsync(TOPIC, { qos });
  c.stream.pause();
  return { c, got };
}

describe('a reader that does not read, with a window of 10 and a queue of 50', () => {
  const lane = laneBrokerFor('fast-lane-slow', true, UNTHROTTLED, { max_inflight: 10, max_queued: 50 });

  it('holds back no site box; gets the 10 sent and the 50 queued, in order; the rest is dropped and counted', async () => {
    const { broker } = lane;
    const read = await stalledReader(broker.port, 1);
    const dropped0 = broker.stats().droppedDeliveries;
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const n = 300;
    const seqs = flood(box, n);
    // Stored and acknowledged although the reader takes nothing (aedes would have held the box back).
    await waitFor('all acknowledged', () => box.acks.length === n, 10_000);
    expect(broker.stats().droppedDeliveries - dropped0).toBe(n - 60);
    read.c.stream.resume();
    await waitFor('the window and the queue delivered', () => read.got.length === 60, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(read.got).toEqual(seqs.slice(0, 60));
    // Caught up: the next message goes through.
    box.write(publish(TOPIC, 1, telemetry(n + 1)));
    await waitFor('delivered after catching up', () => read.got.length === 61, 5000);
    expect(read.got[60]).toBe(n + 1);
    expect(box.closed).toBe(false);
    box.socket.destroy();
    await read.c.endAsync();
  });

  it('moves its window on for acknowledgements that reach aedes behind another packet', async () => {
    const { broker } = lane;
    // A raw reader: its PUBACKs follow a PINGREQ in one write, so the lane leaves them to aedes.
    const sock = connect({ port: broker.port, host: '127.0.0.1' });
    const ids: number[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      if (p.cmd === 'publish') ids.push(p.messageId!);
    });
    sock.on('data', (chunk: Buffer) => parser.parse(chunk));
    const w = (p: mqttPacket.Packet) => sock.write(mqttPacket.generate(p));
    w({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'raw-reader',
      keepalive: 0,
      username: 'reader',
      password: Buffer.from('reader-pass'),
    });
    w({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: TOPIC, qos: 1 }] });
    await new Promise((r) => setTimeout(r, 300));
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    box.write(...Array.from({ length: 15 }, (_, k) => publish(TOPIC, k + 1, telemetry(1000 + k))));
    await waitFor('the window of 10', () => ids.length === 10, 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ids.length).toBe(10);
    const acks = ids.slice(0, 5).map((id) => mqttPacket.generate({ cmd: 'puback', messageId: id }));
    sock.write(Buffer.concat([mqttPacket.generate({ cmd: 'pingreq' }), ...acks]));
    await waitFor('five more', () => ids.length === 15, 5000);
    box.socket.destroy();
    sock.destroy();
  });
});

describe('a reader that does not read, with no queue limit', () => {
  const lane = laneBrokerFor('fast-lane-unbounded', true, UNTHROTTLED, { max_inflight: 10, max_queued: 0 });

  it('holds back no site box and, once it reads, gets every message in order', async () => {
    const { broker } = lane;
    const read = await stalledReader(broker.port, 1);
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    const n = 2000;
    const seqs = flood(box, n);
    await waitFor('all acknowledged', () => box.acks.length === n, 10_000);
    read.c.stream.resume();
    await waitFor('all delivered', () => read.got.length === n, 30_000);
    expect(read.got).toEqual(seqs);
    expect(broker.stats().droppedDeliveries).toBe(0);
    box.socket.destroy();
    await read.c.endAsync();
  });
});

describe('a QoS 0 reader that does not read', () => {
  const lane = laneBrokerFor('fast-lane-slow0', true, UNTHROTTLED);

  it('holds back no site box; what it gets is in order, and what it missed is counted as dropped', async () => {
    const { broker } = lane;
    const read = await stalledReader(broker.port, 0);
    const box = await RawBox.connect(broker.port, 'gw-psc', 'gw-psc-pass');
    // 40 MB in all: more than the loopback's socket buffers and the 8 MiB a reader's socket may hold.
    const n = 8000;
    const pad = 'x'.repeat(5000);
    flood(box, n, (s) => Buffer.from(telemetry(s).toString().replace('{', `{"pad":"${pad}",`)));
    await waitFor('all acknowledged', () => box.acks.length === n, 30_000);
    const dropped = broker.stats().droppedDeliveries;
    expect(dropped).toBeGreaterThan(0);
    read.c.stream.resume();
    await waitFor('what was sent delivered', () => read.got.length === n - dropped, 30_000);
    expect(read.got).toEqual([...read.got].sort((a, b) => a - b));
    expect(read.got[0]).toBe(1);
    expect(box.closed).toBe(false);
    box.socket.destroy();
    await read.c.endAsync();
  }, 90_000);
});

describe('telemetry fast lane at the rate limit', () => {
  const lane = laneBrokerFor('fast-lane-rate', true, { publish_rate_per_s: 20, publish_burst: 4 });

  it('takes what the tokens allow and leaves the rest to be held by aedes, in order', async () => {
    const read = await reader(lane.broker.port);
    const box = await RawBox.connect(lane.broker.port, 'gw-psc', 'gw-psc-pass');
    const seqs = Array.from({ length: 8 }, (_, k) => k + 1);
    box.write(...seqs.map((s) => publish(TOPIC, s, telemetry(s))));
    await waitFor('all acknowledged', () => box.acks.length === 8, 5000);
    expect(box.acks.sort((x, y) => x - y)).toEqual(seqs);
    expect(lane.broker.stats().fastLaneMessages).toBe(4);
    expect(lane.broker.stats().limitHits).toBeGreaterThanOrEqual(1);
    expect(lane.broker.stats().batches).toBe(8);
    await waitFor('delivered', () => (read.got.get(TOPIC) ?? []).length === 8, 5000);
    expect(read.got.get(TOPIC)).toEqual(seqs);
    expect(box.closed).toBe(false);
    box.socket.destroy();
    await read.c.endAsync();
  });
});

describe('telemetry fast lane switched off', () => {
  const lane = laneBrokerFor('fast-lane-off', false);

  it('leaves every packet to aedes', async () => {
    const box = await RawBox.connect(lane.broker.port, 'gw-psc', 'gw-psc-pass');
    box.write(publish(TOPIC, 1, telemetry(1)), publish(TOPIC, 2, telemetry(2)));
    await waitFor('acknowledged', () => box.acks.length === 2, 5000);
    expect(lane.broker.stats().batches).toBe(2);
    expect(lane.broker.stats().fastLaneMessages).toBe(0);
    box.socket.destroy();
  });
});

describe('telemetry fast lane with a store that fails', () => {
  const dir = tempDir('fast-lane-fail');
  let aedes: Aedes;
  let close: () => Promise<void>;
  let port: number;
  beforeAll(async () => {
    const cfg = {
      mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 65536, fast_lane: true },
      credentials_file: await credentials(dir.path),
      store: { kind: 'sqlite', path: join(dir.path, 'c.db') },
      log_level: 'fatal',
    } as BrokerConfig;
    const guard = new Guard(cfg, new Authenticator(loadCredentials(cfg.credentials_file)), silent);
    aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) =>
        guard.authenticate(client, username, password, done),
    });
    const lane = new FastLane(aedes, guard, (_t, _p, done) => done(new Error('disk full')), silent, {
      maxInflight: 100,
      maxQueued: 100_000,
    });
    const listeners = await startListeners(cfg, aedes, guard, silent, lane);
    port = listeners.port;
    close = async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await listeners.close();
    };
  });
  afterAll(async () => {
    await close?.();
    dir.remove();
  });

  it('acknowledges nothing and closes the connection, so the site box resends', async () => {
    const box = await RawBox.connect(port, 'gw-psc', 'gw-psc-pass');
    box.write(publish(TOPIC, 1, telemetry(1)));
    await waitFor('connection closed', () => box.closed, 5000);
    expect(box.acks).toEqual([]);
  });
});

describe('a delivery written in one buffer', () => {
  it('is byte for byte what mqtt-packet writes for MQTT 3.1.1', () => {
    const cases = [
      { topic: 'pantau/v1/psc/ptp-1/telemetry', payload: telemetry(1), qos: 1, retain: false, dup: false },
      { topic: 'pantau/v1/psc/gateway/state', payload: Buffer.from('{}'), qos: 1, retain: true, dup: false },
      { topic: 'a/ünïcödé/ß', payload: Buffer.alloc(0), qos: 1, retain: false, dup: true },
      { topic: 't', payload: Buffer.alloc(200, 1), qos: 0, retain: false, dup: false },
      // Remaining lengths of two, three and four bytes.
      { topic: 't', payload: Buffer.alloc(16_400, 2), qos: 1, retain: false, dup: false },
      { topic: 't', payload: Buffer.alloc(2_097_200, 3), qos: 1, retain: false, dup: false },
      { topic: 't', payload: 'text payload', qos: 1, retain: false, dup: false },
    ];
    for (const c of cases) {
      const want = mqttPacket.generate({
        cmd: 'publish',
        messageId: 4242,
        ...c,
      } as mqttPacket.IPublishPacket);
      expect(encodePublish(c, c.qos, 4242)!.equals(want)).toBe(true);
    }
  });
});
