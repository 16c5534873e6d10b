// Everything a site box publishes lands in the store. A malformed payload is logged and counted,
// never stored and never fatal: one broken site box must not take the central down.

import {
  type DeviceStatePayload,
  decode,
  type EventPayload,
  type GatewayHealthPayload,
  type GatewayStatePayload,
  isMetricName,
  parseTopic,
  type TelemetryPayload,
} from '@pantau/contract';
import type { Logger } from 'pino';
import type { Store } from './store/index.js';

export interface IngestStats {
  batches: number;
  samples: number;
  duplicates: number;
  states: number;
  events: number;
  rejected: number;
}

class Malformed extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isTs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Malformed(what);
}

function checkTelemetry(p: Record<string, unknown>, device: string): TelemetryPayload {
  need(Number.isSafeInteger(p.seq) && (p.seq as number) >= 0, 'seq must be a non-negative integer');
  need(p.device === device, 'device does not match the topic');
  need(typeof p.backfill === 'boolean', 'backfill must be a boolean');
  need(Array.isArray(p.readings), 'readings must be an array');
  for (const r of p.readings as unknown[]) {
    need(isObj(r) && isTs(r.ts) && isObj(r.values), 'each reading needs ts and values');
    for (const [k, v] of Object.entries(r.values as Record<string, unknown>)) {
      need(isMetricName(k), `unknown metric "${k}"`);
      need(typeof v === 'number' && Number.isFinite(v), `metric ${k} is not a number`);
    }
    if (r.labels !== undefined)
      need(
        isObj(r.labels) && Object.values(r.labels).every((x) => typeof x === 'string'),
        'labels must be strings',
      );
  }
  return p as unknown as TelemetryPayload;
}

/** Sees what was ingested, after it is stored: the central's link judgement listens here. */
export interface IngestObserver {
  onTelemetry(site: string, p: TelemetryPayload, receivedAt: number): void;
  onDeviceState(site: string, p: DeviceStatePayload, receivedAt: number): void;
  onGatewayState(site: string, p: GatewayStatePayload, receivedAt: number): void;
  onGatewayHealth(site: string, receivedAt: number): void;
  onEvent(site: string, p: EventPayload, receivedAt: number): void;
}

export function createIngest(store: Store, log: Logger, observer?: IngestObserver) {
  const stats: IngestStats = { batches: 0, samples: 0, duplicates: 0, states: 0, events: 0, rejected: 0 };

  async function ingest(topic: string, payload: Buffer, receivedAt = Date.now()): Promise<void> {
    const t = parseTopic(topic);
    if (!t || t.kind === 'request' || t.kind === 'response') return;
    try {
      if (payload.length === 0) return; // a cleared retained message
      const p = decode(payload);
      switch (t.kind) {
        case 'device-telemetry': {
          const tp = checkTelemetry(p, t.device);
          const res = await store.ingestTelemetry(t.site, tp, receivedAt);
          if (res.accepted) {
            stats.batches++;
            stats.samples += res.samples;
            observer?.onTelemetry(t.site, tp, receivedAt);
          } else stats.duplicates++;
          return;
        }
        case 'gateway-state':
          need(p.state === 'online' || p.state === 'offline', 'state must be online or offline');
          need(isTs(p.ts), 'ts missing');
          need(p.site === undefined || p.site === t.site, 'site does not match the topic');
          {
            const gs = { ...(p as unknown as GatewayStatePayload), site: t.site };
            await store.putGatewayState(t.site, gs, receivedAt);
            observer?.onGatewayState(t.site, gs, receivedAt);
          }
          stats.states++;
          return;
        case 'gateway-health':
          need(isTs(p.ts), 'ts missing');
          await store.putGatewayHealth(t.site, p as unknown as GatewayHealthPayload, receivedAt);
          observer?.onGatewayHealth(t.site, receivedAt);
          return;
        case 'device-state':
          need(p.device === t.device, 'device does not match the topic');
          need(
            isTs(p.ts) && typeof p.status === 'string' && Array.isArray(p.reasons) && isObj(p.figures),
            'incomplete device state',
          );
          await store.putDeviceState(t.site, p as unknown as DeviceStatePayload, receivedAt);
          observer?.onDeviceState(t.site, p as unknown as DeviceStatePayload, receivedAt);
          stats.states++;
          return;
        case 'device-thumbnail': {
          need(p.device === t.device, 'device does not match the topic');
          need(isTs(p.ts) && p.mime === 'image/jpeg' && typeof p.data === 'string', 'incomplete thumbnail');
          const data = Buffer.from(p.data as string, 'base64');
          // JPEG starts with FF D8: anything else is not shown on an operator's screen.
          need(data.length > 2 && data[0] === 0xff && data[1] === 0xd8, 'thumbnail is not a JPEG');
          await store.putThumbnail(
            t.site,
            { device: t.device, ts: p.ts as number, mime: 'image/jpeg', data },
            receivedAt,
          );
          return;
        }
        case 'events':
          need(
            Number.isSafeInteger(p.seq) && isTs(p.ts) && typeof p.type === 'string',
            'event needs seq, ts and type',
          );
          await store.putEvent(t.site, p as unknown as EventPayload, receivedAt);
          observer?.onEvent(t.site, p as unknown as EventPayload, receivedAt);
          stats.events++;
          return;
      }
    } catch (e) {
      stats.rejected++;
      log.warn({ site: t.site, topic, reason: (e as Error).message }, 'rejected a malformed payload');
    }
  }

  return { ingest, stats };
}
