// Remote hands: what an engineer at the command center can ask a site box to do right now, without
// anyone driving out — look for cameras (ONVIF WS-Discovery), read one device, ping, trace the
// route, restart one device's poller. Every argument is checked (bad ones are answered bad_args,
// never a crash), every operation is bounded in time and size, and only a few run at once.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { CollectorResult } from '@pantau/collectors/common';
import { collectOnvif, discover } from '@pantau/collectors/onvif';
import { pingBurst } from '@pantau/collectors/ping';
import { collectSnmp, newSnmpMemory, SnmpSession, type SnmpTarget } from '@pantau/collectors/snmp';
import { collectTerminal } from '@pantau/collectors/zkteco';
import { isHostAddress } from '@pantau/config';
import { cameraTarget } from './camera.js';
import type { DeviceConfig, GatewayConfig } from './config.js';
import { RequestError } from './publisher.js';

/** Operations at once; a further one is answered busy (a site box is a small computer). */
const MAX_AT_ONCE = 2;
const MAX_ADDRESSES = 32;
/** Readings returned by a probe; the rest are counted (an answer must fit one MQTT message). */
const MAX_READINGS = 24;
const TRACEROUTE_PATHS = ['/usr/sbin/traceroute', '/usr/bin/traceroute'];

export interface HandsHost {
  config(): GatewayConfig;
  /** Stops and starts a device's pollers, polling it at once; the job keys restarted. */
  restartDevice(id: string): Promise<string[]>;
}

type Args = Record<string, unknown>;
type Op = (args: Args) => Promise<unknown>;

const bad = (message: string): never => {
  throw new RequestError('bad_args', message);
};

function only(args: Args, allowed: string[]): void {
  // `by` is added by the central to every request (who asked).
  for (const k of Object.keys(args))
    if (k !== 'by' && !allowed.includes(k)) bad(`unknown argument "${k}" (allowed: ${allowed.join(', ')})`);
}

function host(v: unknown, field = 'address'): string {
  if (typeof v !== 'string' || !isHostAddress(v)) return bad(`${field} must be an IP address or host name`);
  return v;
}

function int(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    return bad(`${field} must be a whole number from ${min} to ${max}`);
  return v;
}

function device(cfg: GatewayConfig, v: unknown): DeviceConfig {
  if (typeof v !== 'string') return bad('device must be a device id');
  const d = cfg.devices.find((x) => x.id === v);
  if (!d) throw new RequestError('unknown_device', `no device "${v}" at this site`);
  return d;
}

/** The SNMP session a configured device is polled with (v3 keys included). */
export function snmpSessionOptions(d: DeviceConfig, c: GatewayConfig): SnmpTarget | null {
  const s = d.snmp;
  if (!s) return null;
  return {
    address: d.address,
    port: s.port,
    version: s.version,
    community: s.community ?? 'public',
    timeoutMs: d.timeout_ms ?? c.defaults.timeout_ms,
    retries: c.defaults.retries,
    ...(s.max_repetitions ? { maxRepetitions: s.max_repetitions } : {}),
    ...(s.v3
      ? {
          v3: {
            user: s.v3.user,
            level: s.v3.level,
            ...(s.v3.auth_protocol ? { authProtocol: s.v3.auth_protocol } : {}),
            ...(s.v3.auth_key ? { authKey: s.v3.auth_key } : {}),
            ...(s.v3.priv_protocol ? { privProtocol: s.v3.priv_protocol } : {}),
            ...(s.v3.priv_key ? { privKey: s.v3.priv_key } : {}),
            ...(s.v3.context ? { context: s.v3.context } : {}),
          },
        }
      : {}),
  };
}

async function snmpOnce(o: SnmpTarget) {
  const session = new SnmpSession(o);
  try {
    return summarize(await collectSnmp(session, newSnmpMemory()));
  } finally {
    session.close();
  }
}

function summarize(r: CollectorResult) {
  return {
    kind: r.kind,
    identity: r.identity,
    readings: r.readings.slice(0, MAX_READINGS),
    ...(r.readings.length > MAX_READINGS ? { readings_left_out: r.readings.length - MAX_READINGS } : {}),
    ...(r.notices?.length ? { notices: r.notices } : {}),
  };
}

/** `traceroute -n` output: one line per hop, `*` where a hop did not answer. */
export function parseTraceroute(
  out: string,
): Array<{ hop: number; address: string | null; rtt_ms: number | null }> {
  const hops: Array<{ hop: number; address: string | null; rtt_ms: number | null }> = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[2]!.trim();
    const addr = /^([0-9a-fA-F.:]+)\s+([\d.]+)\s*ms/.exec(rest);
    hops.push(
      addr
        ? { hop: Number(m[1]), address: addr[1]!, rtt_ms: Number(addr[2]) }
        : { hop: Number(m[1]), address: null, rtt_ms: null },
    );
  }
  return hops;
}

function traceroute(
  address: string,
  maxHops: number,
  waitS: number,
): Promise<ReturnType<typeof parseTraceroute>> {
  const bin = TRACEROUTE_PATHS.find((p) => existsSync(p));
  if (!bin)
    throw new RequestError(
      'unsupported',
      'traceroute is not installed on the site box: apt-get install traceroute',
    );
  // UDP probes, one per hop, numbers only: no root, no DNS, bounded by hops × wait.
  const args = [
    ...(isIP(address) === 6 ? ['-6'] : []),
    '-n',
    '-q',
    '1',
    '-w',
    String(waitS),
    '-m',
    String(maxHops),
    address,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: (maxHops * waitS + 5) * 1000, maxBuffer: 64 * 1024 },
      (err, stdout, stderr) => {
        if (err && !stdout)
          return reject(new RequestError('failed', `traceroute: ${stderr.trim() || err.message}`));
        resolve(parseTraceroute(stdout));
      },
    );
  });
}

/** The operations, by request op name, for publisher.handle. */
export function remoteHands(h: HandsHost): Record<string, Op> {
  let running = 0;
  const bounded =
    (fn: Op): Op =>
    async (args) => {
      if (running >= MAX_AT_ONCE)
        throw new RequestError(
          'busy',
          `the site box is already running ${running} remote operations; try again shortly`,
        );
      running++;
      try {
        return await fn(args);
      } finally {
        running--;
      }
    };
  return {
    discover: bounded(async (args) => {
      only(args, ['addresses', 'multicast', 'timeout_ms']);
      const a = args.addresses;
      if (a !== undefined && (!Array.isArray(a) || a.length > MAX_ADDRESSES))
        bad(`addresses must be a list of at most ${MAX_ADDRESSES} hosts`);
      const addresses = ((a as unknown[] | undefined) ?? []).map((x, i) => {
        if (typeof x !== 'string') return bad(`addresses[${i}] must be a host or host:port`);
        const m = /^(.+?)(?::(\d{1,5}))?$/.exec(x);
        host(m?.[1], `addresses[${i}]`);
        if (m?.[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))
          bad(`addresses[${i}]: bad port`);
        return x;
      });
      if (args.multicast !== undefined && typeof args.multicast !== 'boolean')
        bad('multicast must be true or false');
      const timeoutMs = int(args.timeout_ms, 'timeout_ms', 200, 10_000, 3000);
      const found = await discover({
        timeoutMs,
        ...(addresses.length > 0 ? { addresses } : {}),
        ...(typeof args.multicast === 'boolean' ? { multicast: args.multicast } : {}),
      });
      return { found: found.slice(0, 256), count: found.length };
    }),

    probe: bounded(async (args) => {
      const cfg = h.config();
      if (args.device !== undefined) {
        only(args, ['device']);
        const d = device(cfg, args.device);
        const timeoutMs = d.timeout_ms ?? cfg.defaults.timeout_ms;
        const snmp = snmpSessionOptions(d, cfg);
        if (snmp) return { device: d.id, snmp: await snmpOnce(snmp) };
        if (d.kind === 'camera') {
          const onvif = cameraTarget(d, cfg.cameraPasswords.get(d.id), timeoutMs).onvif;
          if (!onvif) throw new RequestError('unsupported', 'this camera has no ONVIF settings to read');
          return { device: d.id, onvif: await collectOnvif(onvif) };
        }
        if (d.kind === 'terminal') {
          const res = await collectTerminal(
            {
              host: d.address,
              port: d.zk?.port ?? 4370,
              transport: d.zk?.transport ?? 'tcp',
              timeoutMs,
              ...(cfg.commKeys.has(d.id) ? { commKey: cfg.commKeys.get(d.id)! } : {}),
            },
            {},
            { timeZone: cfg.site.timezone },
          );
          return { device: d.id, terminal: res };
        }
        throw new RequestError(
          'unsupported',
          `device "${d.id}" has nothing to probe but ping: use the ping operation`,
        );
      }
      // A device not (yet) in the config: SNMP v1/v2c only (v3 keys do not travel in requests).
      only(args, ['kind', 'address', 'port', 'community', 'version', 'timeout_ms']);
      if (args.kind !== undefined && args.kind !== 'snmp')
        bad('kind must be snmp (or give device for a configured device)');
      const version = args.version ?? '2c';
      if (version !== '1' && version !== '2c') bad('version must be 1 or 2c');
      if (
        args.community !== undefined &&
        (typeof args.community !== 'string' || args.community.length > 64 || args.community.length === 0)
      )
        bad('community must be 1 to 64 characters');
      return {
        snmp: await snmpOnce({
          address: host(args.address),
          port: int(args.port, 'port', 1, 65535, 161),
          version: version as '1' | '2c',
          community: (args.community as string | undefined) ?? 'public',
          timeoutMs: int(args.timeout_ms, 'timeout_ms', 100, 10_000, 2000),
          retries: 1,
        }),
      };
    }),

    ping: bounded(async (args) => {
      only(args, ['address', 'count', 'timeout_ms']);
      const address = host(args.address);
      const count = int(args.count, 'count', 1, 20, 5);
      const r = await pingBurst(address, {
        count,
        intervalMs: 200,
        timeoutMs: int(args.timeout_ms, 'timeout_ms', 100, 5000, 1000),
      });
      return { address, ...r };
    }),

    traceroute: bounded(async (args) => {
      only(args, ['address', 'max_hops', 'wait_s']);
      const address = host(args.address);
      const hops = await traceroute(
        address,
        int(args.max_hops, 'max_hops', 1, 30, 15),
        int(args.wait_s, 'wait_s', 1, 5, 1),
      );
      return { address, hops, reached: hops.at(-1)?.address === address };
    }),

    'restart-collector': bounded(async (args) => {
      only(args, ['device']);
      const d = device(h.config(), args.device);
      return { device: d.id, restarted: await h.restartDevice(d.id) };
    }),
  };
}
