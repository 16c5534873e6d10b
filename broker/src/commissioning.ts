// A site's commissioning report (`pantau/v1/{site}/commissioning`): what the central checks before
// ingest keeps it in the central state db (ingest.ts), where the dashboard lists and shows it.

import { type CommissioningPayload, isSlug } from '@pantau/contract';

/** Checks a report's shape: what the dashboard reads from it must be there. */
export function checkCommissioning(site: string, p: Record<string, unknown>): CommissioningPayload {
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
