import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notifySocket } from '../../test/support/notify-socket.js';
import { requireBinary, waitFor } from '../../test/support/procs.js';
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
    // The real protocol: Debian's systemd-notify sends to a notify socket bound here, as systemd's.
    requireBinary('/usr/bin/systemd-notify', 'apt-get install -y systemd');
    const sock = await notifySocket(dir);
    process.env.NOTIFY_SOCKET = sock.path;
    process.env.WATCHDOG_USEC = '1000000'; // a ping every 500 ms
    let ok = 1;
    const o = await startObserver({
      figures: () => ({ ...figures(), polls: { ok, failed: 0, timeouts: 0, backing_off: 0 } }),
      stallAfterS: 1,
      log: pino({ level: 'silent' }),
    });
    try {
      const poller = setInterval(() => ok++, 100);
      const pings = () => sock.messages.filter((m) => m.fields.WATCHDOG === '1').length;
      await waitFor('three pings', () => pings() >= 3, 5000);
      expect(sock.messages[0]!.fields).toMatchObject({
        READY: '1',
        STATUS: 'polling',
        MAINPID: String(process.pid),
      });
      // Polling stalls: after stallAfterS no more pings, so systemd restarts the daemon.
      clearInterval(poller);
      await new Promise((r) => setTimeout(r, 1500));
      const before = pings();
      await new Promise((r) => setTimeout(r, 1200));
      expect(pings()).toBe(before);
      expect(o.health()).toMatchObject({ ok: false, reasons: [expect.stringMatching(/no poll finished/)] });
    } finally {
      await o.close();
      sock.close();
    }
  });
});
