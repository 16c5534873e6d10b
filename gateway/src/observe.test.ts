import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SiteBoxFigures, startObserver } from './observe.js';

const figures = (): SiteBoxFigures => ({
  polls: { ok: 10, failed: 3, timeouts: 1, backing_off: 1 },
  devices: 4,
  outbox: { depth: 7, oldestTs: Date.now() - 60_000, dropped: 2, rejected: 1 },
  mqtt: { connected: true, connects: 3, sent: 40, acked: 39, backfill: 5 },
  seq: 1234,
  clock: { plausible: true, holding: false },
});

describe('site box observer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pantau-observe-'));
  });
  afterEach(() => {
    delete process.env.NOTIFY_SOCKET;
    delete process.env.WATCHDOG_USEC;
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics a Prometheus parser reads, /healthz, and refuses the rest', async () => {
    const o = await startObserver({
      figures,
      stallAfterS: 300,
      log: pino({ level: 'silent' }),
      listen: { host: '127.0.0.1', port: 0 },
    });
    const base = `http://127.0.0.1:${o.port}`;
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const fams = new Map(parsePrometheus(await res.text()).map((f) => [f.name, f]));
    const polls = fams.get('pantau_gateway_polls_total')!;
    expect(polls.type).toBe('COUNTER');
    expect(Object.fromEntries(polls.metrics.map((m) => [m.labels!.result, Number(m.value)]))).toEqual({
      ok: 10,
      failed: 2,
      timeout: 1,
    });
    expect(Number(fams.get('pantau_gateway_outbox_depth')!.metrics[0]!.value)).toBe(7);
    expect(Number(fams.get('pantau_gateway_outbox_oldest_age_seconds')!.metrics[0]!.value)).toBeGreaterThan(
      59,
    );
    expect(Number(fams.get('pantau_gateway_mqtt_connected')!.metrics[0]!.value)).toBe(1);
    expect(Number(fams.get('pantau_gateway_healthy')!.metrics[0]!.value)).toBe(1);
    // Node's own figures come along (memory, event loop lag).
    expect(fams.has('pantau_gateway_process_resident_memory_bytes')).toBe(true);
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, connected: true, outbox_depth: 7 });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    await o.close();
  });

  it('feeds the systemd watchdog while polls finish, and stops when polling stalls', async () => {
    const calls = join(dir, 'calls');
    const fake = join(dir, 'systemd-notify');
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 });
    process.env.NOTIFY_SOCKET = '/run/systemd/notify';
    process.env.WATCHDOG_USEC = '1000000'; // a ping every 500 ms
    let ok = 1;
    const o = await startObserver({
      figures: () => ({ ...figures(), polls: { ok, failed: 0, timeouts: 0, backing_off: 0 } }),
      stallAfterS: 1,
      log: pino({ level: 'silent' }),
      notifyCommand: fake,
    });
    const poller = setInterval(() => ok++, 100);
    await new Promise((r) => setTimeout(r, 2200));
    const lines = () => readFileSync(calls, 'utf8').trim().split('\n');
    expect(lines()[0]).toBe(`--pid=${process.pid} --ready --status=polling`);
    expect(lines().filter((l) => l.endsWith('WATCHDOG=1')).length).toBeGreaterThanOrEqual(3);
    // Polling stalls: after stallAfterS no more pings, so systemd restarts the daemon.
    clearInterval(poller);
    await new Promise((r) => setTimeout(r, 1500));
    const before = lines().length;
    await new Promise((r) => setTimeout(r, 800));
    expect(lines().length).toBe(before);
    expect(o.health()).toMatchObject({ ok: false, reasons: [expect.stringMatching(/no poll finished/)] });
    await o.close();
  });
});
