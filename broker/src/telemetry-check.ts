// A telemetry payload checked field by field before it is stored: on the broker's event loop
// (ingest.ts) or in the store's writer thread (store/sqlite-thread-worker.ts), the same rules.

import { decode, isMetricName, type TelemetryPayload } from '@pantau/contract';

/** A payload that breaks the contract: counted and logged by ingest, never stored, never fatal. */
export class Malformed extends Error {}

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const isTs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

export function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Malformed(what);
}

/** A decoded payload as telemetry of `device` (from its topic); throws Malformed. */
export function checkTelemetry(p: Record<string, unknown>, device: string): TelemetryPayload {
  need(Number.isSafeInteger(p.seq) && (p.seq as number) >= 0, 'seq must be a non-negative integer');
  need(p.device === device, 'device does not match the topic');
  need(typeof p.backfill === 'boolean', 'backfill must be a boolean');
  need(Array.isArray(p.readings), 'readings must be an array');
  for (const r of p.readings as unknown[]) {
    need(isObj(r) && isTs(r.ts) && isObj(r.values), 'each reading needs ts and values');
    for (const k in r.values as Record<string, unknown>) {
      const v = (r.values as Record<string, unknown>)[k];
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

/** Decodes (contract version included) and checks; throws Malformed. */
export function decodeTelemetry(json: string | Buffer, device: string): TelemetryPayload {
  let p: Record<string, unknown>;
  try {
    p = decode(json);
  } catch (e) {
    throw new Malformed((e as Error).message);
  }
  return checkTelemetry(p, device);
}
