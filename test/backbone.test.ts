// The central's link judgement through real processes: two site boxes each poll one end of a radio
// link (simulated airMAX radios), the broker knows the backbone, an engineer commissions the link
// through the dashboard API, then rain sets in at both ends and the link is classified as weather
// fade with its reason in both languages. The CLI reads the same verdicts and commissions too.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackboneRig, startBackboneRig } from './support/backbone-rig.js';
import type { Central } from './support/central.js';
import { ROOT, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);
/** Rain starts this long after the radios start, deepens over a few seconds and stays. */
const RAIN_AT_MS = 20_000;

interface LinkView {
  id: string;
  status: { status: string; cause: string; level: number; reasons: Array<{ id: string; en: string }> } | null;
  baseline: { a?: { rx_dbm: number }; b?: { rx_dbm: number }; recorded_by: string } | null;
  a: { device_state: { status: string } | null };
  b: { device_state: { status: string } | null };
  latency: {
    from_site: string;
    hop: Record<string, string>;
    figures: Record<string, { value: number; ts: number }>;
  } | null;
}

describe('links judged at the central, through real processes', () => {
  const dir = tempDir('backbone');
  let rig: BackboneRig;
  let central: Central;
  const node = process.execPath;

  const api = <T>(path: string, user = 'insinyur', init: RequestInit = {}) =>
    central.api<T>(path, user, init);
  const link = async () => (await api<LinkView>('/api/links/scc-bukit')).body;

  beforeAll(async () => {
    rig = await startBackboneRig({
      dir: dir.path,
      rainAtMs: RAIN_AT_MS,
      users: [
        ['insinyur', 'engineer'],
        ['operator', 'operator'],
        ['pimpinan', 'leadership'],
      ],
    });
    central = rig.central;
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
    dir.remove();
  }, 30_000);

  it('shows the link with both ends, judged ok and asking for a baseline before commissioning', async () => {
    const l = await waitFor(
      'both ends reporting',
      async () => {
        const v = await link();
        return v.status?.status === 'ok' && v.a.device_state && v.b.device_state ? v : null;
      },
      20_000,
    );
    expect(l.status!.reasons.map((r) => r.en)).toContain(
      'No baseline yet: record one at commissioning so fading can be judged',
    );
    const bb = await api<{ root: string; sites: Array<{ id: string; upstream: string | null }> }>(
      '/api/backbone',
    );
    expect(bb.body.root).toBe('scc');
    expect(bb.body.sites.find((s) => s.id === 'bukit')!.upstream).toBe('scc-bukit');
  });

  it('commissions the link through the API: engineers only, with a reason when refused', async () => {
    const refused = await api<{ message: string }>('/api/links/scc-bukit/baseline', 'operator', {
      method: 'POST',
      body: JSON.stringify({ minutes: 1 }),
    });
    expect(refused.status).toBe(403);
    // The role guard refuses before the route: operators have no business with link cards at all.
    expect(refused.body.message).toMatch(/may not use/);
    const bad = await api<{ message: string }>('/api/links/scc-bukit/baseline', 'insinyur', {
      method: 'POST',
      body: JSON.stringify({ minutes: 0 }),
    });
    expect(bad.status).toBe(400);
    const missing = await api('/api/links/no-such/baseline', 'insinyur', { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    // A baseline needs a few readings at each end; until then the API says so (409) and records nothing.
    const ok = await waitFor(
      'baseline recorded',
      async () => {
        const r = await api<{
          a: { rx_dbm: number };
          b: { rx_dbm: number };
          recorded_by: string;
          message?: string;
        }>('/api/links/scc-bukit/baseline', 'insinyur', {
          method: 'POST',
          body: JSON.stringify({ minutes: 1, note: 'komisioning awal' }),
        });
        if (r.status === 409) expect(r.body.message).toMatch(/fewer than 3 readings|readings yet at the/);
        return r.status === 201 ? r : null;
      },
      15_000,
      500,
    );
    expect(ok.body.recorded_by).toBe('insinyur');
    expect(ok.body.a.rx_dbm).toBeLessThan(-30);
    expect(ok.body.b.rx_dbm).toBe(ok.body.a.rx_dbm);
    // In the audit trail, with the note; the refused attempts changed nothing and are not in it.
    const trail = await api<Array<{ user: string; target: string; detail: { note?: string } }>>(
      '/api/audit?action=baseline_recorded',
    );
    expect(trail.body).toHaveLength(1);
    expect(trail.body[0]).toMatchObject({
      user: 'insinyur',
      target: 'scc-bukit',
      detail: { note: 'komisioning awal' },
    });
  });

  it('tells rain on both ends as weather fade, in Bahasa Indonesia and English', async () => {
    const l = await waitFor(
      'weather fade verdict',
      async () => {
        const v = await link();
        return v.status?.cause === 'weather_fade' ? v : null;
      },
      45_000,
      500,
    );
    expect(l.status!.status).toBe('degraded');
    expect(l.status!.reasons[0]!.id).toContain('kedua ujung turun bersamaan');
    expect(l.status!.reasons[0]!.en).toContain('noise floor steady');
    const incidents = await api<Array<{ key: string; kind: string }>>('/api/incidents?open=true');
    expect(incidents.body.map((i) => i.key)).toContain('weather:Tanete');
  }, 60_000);

  it('an operator acknowledges the incident, an engineer writes a note; leadership may not; uptime shows the fade as degraded', async () => {
    type Inc = {
      key: string;
      opened_at: number;
      acknowledged: { by: string } | null;
      notes: Array<{ kind: string; username: string; text: string }>;
    };
    const weather = (await api<Inc[]>('/api/incidents?open=true')).body.find(
      (i) => i.key === 'weather:Tanete',
    )!;
    expect(weather.acknowledged).toBe(null);
    const post = (path: string, user: string, body: unknown) =>
      central.api<Inc & { message?: string }>(path, user, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const id = { key: weather.key, opened_at: weather.opened_at };
    const denied = await post('/api/incidents/ack', 'pimpinan', id);
    expect(denied.status).toBe(403);
    // Refused by the role guard before the route (leadership reads summaries, not incidents).
    expect(denied.body.message).toContain('tidak boleh membuka /api/incidents/ack');
    const acked = await post('/api/incidents/ack', 'operator', { ...id, text: 'hujan lebat, dipantau' });
    expect(acked.status).toBe(201);
    expect(acked.body.acknowledged!.by).toBe('operator');
    expect((await post('/api/incidents/ack', 'insinyur', id)).status).toBe(409);
    expect((await post('/api/incidents/note', 'insinyur', id)).status).toBe(400);
    expect((await post('/api/incidents/note', 'insinyur', { ...id, text: 'margin cukup' })).status).toBe(201);
    expect((await post('/api/incidents/ack', 'operator', { key: 'link:nope', opened_at: 1 })).status).toBe(
      404,
    );
    const after = (await api<Inc[]>('/api/incidents?open=true')).body.find(
      (i) => i.key === 'weather:Tanete',
    )!;
    expect(after.acknowledged!.by).toBe('operator');
    expect(after.notes.map((n) => [n.kind, n.username, n.text])).toEqual([
      ['ack', 'operator', 'hujan lebat, dipantau'],
      ['note', 'insinyur', 'margin cukup'],
    ]);
    const trail = (
      await api<Array<{ action: string; user: string; target: string }>>(
        `/api/audit?from=${weather.opened_at}`,
      )
    ).body.filter((e) => e.action.startsWith('incident_'));
    expect(trail.map((e) => [e.action, e.user, e.target])).toEqual([
      ['incident_note', 'insinyur', 'weather:Tanete'],
      ['incident_acknowledged', 'operator', 'weather:Tanete'],
    ]);

    // Uptime over the last hour: the link faded (degraded) but was not down (beyond a second or so
    // at start, before both site boxes had reported).
    const from = Date.now() - 3600_000;
    type Row = { id: string; down_ms: number; degraded_ms: number; availability_pct: number };
    const links = (await api<{ rows: Row[] }>(`/api/uptime?from=${from}&group=link`)).body.rows;
    const trunk = links.find((r) => r.id === 'scc-bukit')!;
    expect(trunk.down_ms).toBeLessThan(5000);
    expect(trunk.degraded_ms).toBeGreaterThan(0);
    expect(trunk.availability_pct).toBeGreaterThan(99.8);
    const kec = (await api<{ rows: Row[] }>(`/api/uptime?from=${from}&group=kecamatan`)).body.rows;
    // The relay is the kecamatan's one measured site (the command center is where it is seen from).
    expect(kec).toEqual([expect.objectContaining({ id: 'Tanete', sites: 1 })]);
    expect(kec[0]!.availability_pct).toBeGreaterThan(99.8);
    const csv = await central.api<string>(`/api/uptime?from=${from}&group=site&format=csv`, 'pimpinan');
    expect(csv.status).toBe(200);
    expect(csv.type).toContain('text/csv');
    const lines = String(csv.body).trim().split('\r\n');
    expect(lines[0]).toBe(
      'site,name,sites,availability_pct,down_minutes,degraded_minutes,outages,longest_minutes,down_now,from,to',
    );
    expect(lines[1]).toMatch(/^bukit,Relay Bukit,1,(100|99\.\d+),/);
    expect((await central.api(`/api/uptime?from=${Date.now() + 1000}`, 'pimpinan')).status).toBe(400);
  });

  it("puts the relay box's probe bursts across the link on its card, the distribution kept", async () => {
    const l = await waitFor(
      'path latency on the link card',
      async () => {
        const v = await link();
        return v.latency ? v : null;
      },
      30_000,
      500,
    );
    expect(l.latency!.from_site).toBe('bukit');
    expect(l.latency!.hop).toMatchObject({ hop: 'pusat', hop_name: 'Command Center', link: 'scc-bukit' });
    const f = l.latency!.figures;
    expect(f.loss_pct!.value).toBe(0);
    for (const p of [
      'latency_min_ms',
      'latency_p10_ms',
      'latency_p50_ms',
      'latency_p90_ms',
      'latency_max_ms',
    ])
      expect(f[p], p).toBeDefined();
    expect(f.latency_p10_ms!.value).toBeLessThanOrEqual(f.latency_p50_ms!.value);
    expect(f.latency_p50_ms!.value).toBeLessThanOrEqual(f.latency_p90_ms!.value);
    // The path itself is a device of the relay's site box, judged ok while the center answers.
    const path = await api<{ name: string; status: string; figures: Record<string, unknown> }>(
      '/api/devices/bukit/uplink',
    );
    expect(path.body).toMatchObject({ name: 'Jalur ke pusat / Path to the command center', status: 'ok' });
    expect(path.body.figures.latency_p50_ms).toBeDefined();
  });

  it('the CLI lists the same verdict and can commission from the store', async () => {
    const cfg = join(dir.path, 'central.yaml');
    const cli = (args: string[]) => run(node, [join(ROOT, 'broker/dist/cli.js'), 'backbone', ...args]);
    const links = await cli(['links', '--config', cfg]);
    expect(links.stdout).toMatch(
      /scc-bukit\s+degraded\s+weather_fade\s+[\d.]+ ms, 0% loss\s+Pelemahan karena cuaca/,
    );
    const check = await cli(['check', join(dir.path, 'backbone.yaml')]);
    expect(check.stdout).toContain('bukit  ← scc-bukit (radio)');
    const commission = await cli([
      'commission',
      '--config',
      cfg,
      '--link',
      'scc-bukit',
      '--minutes',
      '1',
      '--by',
      'ci',
      '--json',
    ]);
    expect(JSON.parse(commission.stdout).recorded_by).toBe('ci');
    const none = await cli(['commission', '--config', cfg, '--link', 'nope']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((none as { code: number }).code).toBe(1);
    expect((none as { stderr: string }).stderr).toContain('no link "nope"');
  });
});
