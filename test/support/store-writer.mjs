// One writer process for the shared-store test: ingests telemetry batches seq 1..count (ascending or
// descending) into a SQLite store file another process writes at the same time, as two brokers of a
// cluster do. Prints what its store accepted and what it found already there.
// Usage: node store-writer.mjs <store.db> <site> <count> <asc|desc>

import { openStore } from '@pantau/broker/store';

const [path, site, countArg, order] = process.argv.slice(2);
const count = Number(countArg);
const store = openStore({ kind: 'sqlite', path });
const seqs = Array.from({ length: count }, (_, i) => i + 1);
if (order === 'desc') seqs.reverse();
let accepted = 0;
let duplicates = 0;
const now = Date.now();
for (const seq of seqs) {
  const readings = [0, 1, 2].map((k) => ({
    ts: now - (count - seq) * 1000 + k,
    values: { rx_power_dbm: -50 - k, snr_db: 30 },
  }));
  const res = await store.ingestTelemetry(
    site,
    { v: 1, seq, device: 'r1', backfill: false, readings },
    Date.now(),
  );
  if (res.accepted) accepted++;
  else duplicates++;
}
await store.close();
process.stdout.write(`${JSON.stringify({ accepted, duplicates })}\n`);
