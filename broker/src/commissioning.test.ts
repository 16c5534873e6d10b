import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { mayPublish } from './acl.js';
import { CentralDb } from './backbone/central-db.js';
import { checkCommissioning } from './commissioning.js';
import { createIngest } from './ingest.js';
import { openStore } from './store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pantau-commissioning-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

const report = (o: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      v: 1,
      id: 'pasar-20261202-040000',
      ts: 1_796_184_000_000,
      site: 'pasar',
      time_zone: 'Asia/Makassar',
      by: 'installer@10.1.2.50',
      gateway_version: '0.1.0',
      devices: [{ id: 'cam-1', kind: 'camera', address: '10.1.2.20', ok: true, notes: [] }],
      links: [],
      ...o,
    }),
  );

describe('commissioning reports at the central', () => {
  it("a site box may publish its own site's report, not retained, not another site's", () => {
    const gw = { role: 'gateway' as const, username: 'gw-pasar', site: 'pasar' };
    expect(mayPublish(gw, 'pantau/v1/pasar/commissioning', false, 200_000, 262_144)).toEqual({ ok: true });
    expect(mayPublish(gw, 'pantau/v1/pasar/commissioning', true, 1000, 262_144).ok).toBe(false);
    expect(mayPublish(gw, 'pantau/v1/kantor/commissioning', false, 1000, 262_144).ok).toBe(false);
    expect(mayPublish(gw, 'pantau/v1/pasar/commissioning', false, 300_000, 262_144).ok).toBe(false);
  });

  it('refuses a report for another site or without its parts', () => {
    const obj = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;
    expect(() => checkCommissioning('kantor', obj(report()))).toThrow(/site does not match/);
    expect(() => checkCommissioning('pasar', obj(report({ id: 'Not A Slug' })))).toThrow(/id/);
    expect(() => checkCommissioning('pasar', obj(report({ devices: [{ id: 'x' }] })))).toThrow(/kind/);
  });

  it('ingest keeps one row per site and id in commissioning_reports; a re-delivery replaces it', async () => {
    const db = new CentralDb(join(dir, 'central-state.db'));
    const store = openStore({ kind: 'sqlite', path: join(dir, 'central.db') } as Parameters<
      typeof openStore
    >[0]);
    const { ingest, stats } = createIngest(store, log, undefined, { central: db });
    const topic = (site: string) => `pantau/v1/${site}/commissioning`;
    await ingest(topic('pasar'), report(), 10);
    await ingest(topic('pasar'), report(), 20);
    await ingest(topic('pasar'), report({ id: 'pasar-20261203-040000', ts: 1_796_270_400_000 }), 30);
    // Another site's report on this site's topic, and a newer contract version: refused, counted.
    await ingest(topic('pasar'), report({ site: 'kantor' }), 40);
    await ingest(topic('pasar'), report({ v: 2 }), 50);
    expect(stats.rejected).toBe(2);
    const list = db.commissioningReports('pasar');
    expect(list.map((r) => [r.id, r.received_at])).toEqual([
      ['pasar-20261203-040000', 30],
      ['pasar-20261202-040000', 20],
    ]);
    expect(db.commissioningReports('kantor')).toEqual([]);
    expect(JSON.parse(db.commissioningReport('pasar', 'pasar-20261202-040000')!.body).devices).toHaveLength(
      1,
    );
    // Without a central state db the report is dropped, not an ingest failure.
    await createIngest(store, log).ingest(topic('pasar'), report(), 60);
    await store.close();
    db.close();
  });
});
