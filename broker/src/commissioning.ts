// A site's commissioning report (`pantau/v1/{site}/commissioning`) is kept in the central state db,
// beside the link baselines it is the day-one record of; the dashboard lists and shows it.

import { type CommissioningPayload, decode, isSlug } from '@pantau/contract';
import type { Logger } from 'pino';
import type { CentralDb } from './backbone/central-db.js';

/** Checks a report's shape: what the dashboard reads from it must be there. */
export function checkCommissioning(site: string, payload: Buffer): CommissioningPayload {
  const p = decode(payload) as Record<string, unknown>;
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`commissioning report: ${what}`);
  };
  need(typeof p.id === 'string' && isSlug(p.id), 'id must be a slug');
  need(Number.isSafeInteger(p.ts) && (p.ts as number) > 0, 'ts missing');
  need(p.site === site, 'site does not match the topic');
  need(Array.isArray(p.devices), 'devices missing');
  need(Array.isArray(p.links), 'links missing');
  need(typeof p.time_zone === 'string' && typeof p.by === 'string', 'time_zone and by needed');
  for (const d of p.devices as unknown[]) {
    const x = d as Record<string, unknown>;
    need(
      typeof x === 'object' && x !== null && typeof x.id === 'string' && typeof x.kind === 'string',
      'a device needs id and kind',
    );
    need(Array.isArray(x.notes), 'a device needs notes');
  }
  return p as unknown as CommissioningPayload;
}

/** Stores a report; a malformed one is logged and dropped (re-sending it would not make it better). */
export function keepCommissioning(
  db: CentralDb | null,
  site: string,
  payload: Buffer,
  log: Logger,
  receivedAt = Date.now(),
): void {
  if (!db) {
    log.warn({ site }, 'commissioning report dropped: no central state db (central.yaml has no backbone)');
    return;
  }
  let r: CommissioningPayload;
  try {
    r = checkCommissioning(site, payload);
  } catch (e) {
    log.warn({ site, reason: (e as Error).message }, 'rejected a malformed commissioning report');
    return;
  }
  db.putCommissioningReport({
    site,
    id: r.id,
    created_at: r.ts,
    received_at: receivedAt,
    body: payload.toString('utf8'),
  });
  log.info({ site, id: r.id, devices: r.devices.length }, 'commissioning report kept');
}
