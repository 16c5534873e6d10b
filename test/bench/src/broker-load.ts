// One load process of the broker benchmark (broker.ts starts several). Roles:
//  pub  — site-box connections publishing telemetry at QoS 1, closed loop (a window of unacknowledged
//         messages per connection) or open loop (a fixed rate per connection);
//  sub  — one reader subscribed to pantau/v1/# at QoS 1, measuring delivery latency from the send
//         time carried in each payload;
//  idle — site boxes that connect (persistent session, last will), subscribe to their requests and
//         stay, for the memory per connection.
// Prints {"ready":…} once connected, waits for "go <epoch ms>" on stdin, prints its result as JSON.

import { createInterface } from 'node:readline';
import {
  leanConnect,
  PINGREQ,
  pubackPacket,
  publishPacket,
  subscribePacket,
  wireTopic,
} from './mqtt-lean.js';

export interface Account {
  username: string;
  password: string;
  site: string;
}

export type LoadConfig =
  | {
      role: 'pub';
      port: number;
      localAddress?: string;
      accounts: Account[];
      window: number;
      /** Messages per second per connection; 0 = closed loop. */
      ratePerConn: number;
      /**
       * Each connection's sequence numbers follow this one. A broker keeps its store across rounds:
       * numbers it already holds would be replays, refused without being written.
       */
      seqAfter: number;
      warmupMs: number;
      durationMs: number;
    }
  | { role: 'sub'; port: number; account: Account; warmupMs: number; durationMs: number }
  | {
      role: 'idle';
      port: number;
      localAddress?: string;
      accounts: Account[];
      perAccount: number;
      tag: string;
    };

const now = () => performance.timeOrigin + performance.now();
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Grows as needed; sorted once at the end. */
class Samples {
  private a = new Float64Array(1 << 16);
  n = 0;
  add(x: number) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  quantiles(): { p50: number; p99: number; max: number } {
    const s = this.a.subarray(0, this.n).sort();
    const q = (p: number) => (this.n ? s[Math.min(this.n - 1, Math.floor(p * this.n))]! : Number.NaN);
    return { p50: q(0.5), p99: q(0.99), max: this.n ? s[this.n - 1]! : Number.NaN };
  }
}

function waitGo(): Promise<number> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (l) => {
      const m = /^go (\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
      if (l === 'end') process.exit(0);
    });
  });
}

/**
 * `ts`: the reading's time. A site box reads a device once per poll interval, so two of its batches
 * never carry one device's readings at the same millisecond; the load keeps them apart too (a window
 * of messages leaves within one millisecond), or the central would merge them as late corrections.
 */
function telemetry(seq: number, sent: number, ts: number): Buffer {
  return Buffer.from(
    `{"v":1,"seq":${seq},"device":"radio","backfill":false,"sent":${sent},"readings":[{"ts":${ts},"values":{"rx_power_dbm":-61,"snr_db":29,"noise_floor_dbm":-92,"ccq_pct":97,"capacity_tx_bps":150000000,"capacity_rx_bps":140000000,"rate_tx_bps":2310000,"rate_rx_bps":8120000,"uptime_s":${2592000 + seq}}}]}`,
  );
}

async function pub(c: Extract<LoadConfig, { role: 'pub' }>): Promise<void> {
  let t0 = Number.POSITIVE_INFINITY;
  let from = Number.POSITIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  let acked = 0;
  /** Every acknowledgement, warm-up and tail included: what the broker took responsibility for. */
  let ackedAll = 0;
  let failedConnects = 0;
  const rtt = new Samples();
  const conns = c.accounts.map((a) => {
    const conn = {
      seq: c.seqAfter,
      ts: 0,
      nextId: 1,
      inflight: 0,
      sentAt: new Float64Array(65536),
      topic: wireTopic(`pantau/v1/${a.site}/radio/telemetry`),
      ready: false,
      send() {
        const id = conn.nextId;
        conn.nextId = id === 65535 ? 1 : id + 1;
        const t = now();
        conn.sentAt[id] = t;
        conn.inflight++;
        conn.ts = Math.max(Math.floor(t), conn.ts + 1);
        socket.write(publishPacket(conn.topic, id, telemetry(++conn.seq, t, conn.ts)));
      },
    };
    let onReady: () => void = () => {};
    const readyP = new Promise<void>((r) => (onReady = r));
    const socket = leanConnect(
      c.port,
      '127.0.0.1',
      c.localAddress,
      { clientId: `bench-${a.site}`, username: a.username, password: a.password, clean: true, keepaliveS: 0 },
      {
        connack: (rc) => {
          if (rc !== 0) failedConnects++;
          conn.ready = rc === 0;
          onReady();
        },
        puback: (id) => {
          conn.inflight--;
          ackedAll++;
          const t = now();
          if (t >= from && t < until) {
            acked++;
            rtt.add(t - conn.sentAt[id]!);
          }
          if (c.ratePerConn === 0 && t < until) conn.send();
        },
      },
    );
    return { conn, readyP };
  });
  await Promise.all(conns.map((x) => x.readyP));
  say({ ready: true, failedConnects });
  t0 = await waitGo();
  from = t0 + c.warmupMs;
  until = from + c.durationMs;
  await new Promise((r) => setTimeout(r, Math.max(0, t0 - now())));
  let behind = 0;
  if (c.ratePerConn === 0) {
    for (const { conn } of conns) if (conn.ready) for (let i = 0; i < c.window; i++) conn.send();
  } else {
    // Open loop: every few ms, send what each connection owes by now; a connection that has too many
    // unacknowledged messages skips (counted), so a slow broker shows up as lost rate, not as a crash.
    const tick = setInterval(() => {
      const t = now();
      if (t >= until) return clearInterval(tick);
      const due = Math.floor(((t - t0) * c.ratePerConn) / 1000);
      for (const { conn } of conns) {
        if (!conn.ready) continue;
        while (conn.seq - c.seqAfter < due) {
          if (conn.inflight >= c.window) {
            behind += due - (conn.seq - c.seqAfter);
            conn.seq = c.seqAfter + due; // its numbers move on: the skipped ones are simply never sent
            break;
          }
          conn.send();
        }
      }
    }, 2);
  }
  await new Promise((r) => setTimeout(r, until - now() + 1500));
  say({ acked, ackedAll, seconds: c.durationMs / 1000, behind, rtt: rtt.quantiles() });
  process.exit(0);
}

async function sub(c: Extract<LoadConfig, { role: 'sub' }>): Promise<void> {
  let from = Number.POSITIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  const lat = new Samples();
  let received = 0;
  let acks: number[] = [];
  const SENT = Buffer.from('"sent":');
  let subscribed: () => void = () => {};
  const subscribedP = new Promise<void>((r) => (subscribed = r));
  const socket = leanConnect(
    c.port,
    '127.0.0.1',
    undefined,
    {
      clientId: 'bench-sub',
      username: c.account.username,
      password: c.account.password,
      clean: true,
      keepaliveS: 0,
    },
    {
      connack: (rc) => {
        if (rc !== 0) throw new Error(`subscriber refused: ${rc}`);
        socket.write(subscribePacket(1, process.env.BENCH_BROKER_READER_FILTER ?? 'pantau/v1/#', 1));
      },
      suback: (_id, granted) => {
        if (granted === 0x80) throw new Error('subscription refused');
        subscribed();
      },
      publish: (flags, body) => {
        const t = now();
        const tl = body.readUInt16BE(0);
        let at = 2 + tl;
        if ((flags >> 1) & 3) {
          if (acks.length === 0) setImmediate(flush);
          acks.push(body.readUInt16BE(at));
          at += 2;
        }
        const i = body.indexOf(SENT, at);
        if (i < 0) return;
        const sent = Number.parseFloat(body.toString('latin1', i + 7, i + 30));
        if (sent >= from && sent < until) {
          received++;
          lat.add(t - sent);
        }
      },
    },
  );
  const flush = () => {
    socket.write(Buffer.concat(acks.map(pubackPacket)));
    acks = [];
  };
  await subscribedP;
  say({ ready: true });
  const t0 = await waitGo();
  from = t0 + c.warmupMs;
  until = from + c.durationMs;
  // Late deliveries of the window still count: wait for them a while after the window closes.
  await new Promise((r) => setTimeout(r, until - now() + 4000));
  say({ received, seconds: c.durationMs / 1000, latency: lat.quantiles() });
  process.exit(0);
}

async function idle(c: Extract<LoadConfig, { role: 'idle' }>): Promise<void> {
  const jobs: Array<{ a: Account; k: number }> = [];
  for (const a of c.accounts) for (let k = 0; k < c.perAccount; k++) jobs.push({ a, k });
  let connected = 0;
  let failed = 0;
  const sockets: Array<ReturnType<typeof leanConnect>> = [];
  // A bounded number of handshakes at once, like site boxes coming back after a central restart.
  const worker = async () => {
    for (;;) {
      const job = jobs.shift();
      if (!job) return;
      await new Promise<void>((done) => {
        const site = job.a.site;
        const s = leanConnect(
          c.port,
          '127.0.0.1',
          c.localAddress,
          {
            clientId: `idle-${c.tag}-${job.a.username}-${job.k}`,
            username: job.a.username,
            password: job.a.password,
            clean: false,
            keepaliveS: 120,
            will: {
              topic: `pantau/v1/${site}/gateway/state`,
              payload: `{"v":1,"state":"offline","ts":${Date.now()},"site":"${site}"}`,
              qos: 1,
              retain: true,
            },
          },
          {
            connack: (rc) => {
              if (rc !== 0) {
                failed++;
                return done();
              }
              s.write(subscribePacket(1, `pantau/v1/${site}/request/+`, 1));
            },
            suback: () => {
              connected++;
              done();
            },
            close: () => done(),
          },
        );
        sockets.push(s);
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  say({ ready: true, connected, failed });
  setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(PINGREQ);
  }, 60_000);
  await waitGo();
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
const main = cfg.role === 'pub' ? pub(cfg) : cfg.role === 'sub' ? sub(cfg) : idle(cfg);
main.catch((e: unknown) => {
  process.stderr.write(`broker-load: ${(e as Error).message}\n`);
  process.exit(1);
});
