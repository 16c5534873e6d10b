// A link's card: both ends side by side, the verdict in plain words, history with the baseline and
// incidents, and the latency/loss distribution of the probes that cross it.

import { api, post } from './api.js';
import { drawChart, type Line } from './chart.js';
import { age, bps, esc, num, value } from './format.js';
import { t, tk, tr } from './i18n.js';
import type { Baseline, DeviceState, Incident, LinkCardView, Role, Series } from './types.js';

const PERIODS: Record<string, number> = {
  '1h': 3600_000,
  '6h': 6 * 3600_000,
  '24h': 86400_000,
  '7d': 7 * 86400_000,
};
let period = '6h';
const COLORS = { a: ['#1d4ed8', '#60a5fa'], b: ['#b45309', '#f59e0b'] };

function figure(st: DeviceState, metric: string, fmt: (v: number) => string): string {
  const f = st.figures[metric];
  if (!f) return '<span class="muted">—</span>';
  return value(fmt(f.value), f.ts, 3 * st.interval_s * 1000);
}

function pair(st: DeviceState, m1: string, m2: string, fmt: (v: number) => string): string {
  const a = st.figures[m1];
  const b = st.figures[m2];
  if (!a && !b) return '<span class="muted">—</span>';
  const ts = Math.min(a?.ts ?? Number.POSITIVE_INFINITY, b?.ts ?? Number.POSITIVE_INFINITY);
  return value(`${a ? fmt(a.value) : '—'} / ${b ? fmt(b.value) : '—'}`, ts, 3 * st.interval_s * 1000);
}

function endCard(which: 'a' | 'b', end: LinkCardView['a'], chains: Series[], base: Baseline | null): string {
  const st = end.device_state;
  const head = `<h3>${t(which === 'a' ? 'end_a' : 'end_b')}: ${esc(end.site_name)}</h3><div class="muted">${esc(end.device ?? '')}${st?.model ? ` · ${esc(st.model)}` : ''}</div>`;
  if (!st) return `<section class="card end">${head}<p class="muted">${t('no_device')}</p></section>`;
  const stale = 3 * st.interval_s * 1000;
  const chainRows = chains
    .filter((s) => s.labels.chain !== undefined && s.points.length)
    .map((s) => {
      const last = s.points.at(-1)!;
      return `<tr><th>${t('rx_chain', { c: esc(s.labels.chain) })}</th><td>${value(num(last[1], 'dBm', 1), last[0], stale)}</td></tr>`;
    });
  const b = base?.[which];
  return `<section class="card end end-${which}" data-end="${which}">${head}
    <p><span class="badge ${st.status}">${esc(tk(st.status))}</span> ${st.reasons.map((r) => esc(tr(r))).join('; ')}</p>
    <table class="kv">
      <tr><th>${t('rx')}</th><td>${figure(st, 'rx_power_dbm', (v) => num(v, 'dBm', 1))}${b?.rx_dbm !== undefined ? ` <span class="muted">(${t('baseline')} ${num(b.rx_dbm, 'dBm', 1)})</span>` : ''}</td></tr>
      ${chainRows.join('')}
      <tr><th>${t('snr')}</th><td>${figure(st, 'snr_db', (v) => num(v, 'dB', 0))}</td></tr>
      <tr><th>${t('ccq')}</th><td>${figure(st, 'ccq_pct', (v) => num(v, '%', 0))}</td></tr>
      ${st.figures.capacity_tx_bps || st.figures.capacity_rx_bps || !st.figures.capacity_pct ? `<tr><th>${t('capacity')}</th><td>${pair(st, 'capacity_tx_bps', 'capacity_rx_bps', bps)}</td></tr>` : `<tr><th>${t('capacity_pct')}</th><td>${figure(st, 'capacity_pct', (v) => num(v, '%', 0))}</td></tr>`}
      <tr><th>${t('modulation')}</th><td>${figure(st, 'mcs_index', (v) => String(v))}</td></tr>
      <tr><th>${t('traffic')}</th><td>${pair(st, 'if_in_bps', 'if_out_bps', bps)}</td></tr>
    </table></section>`;
}

type Px = number | null;

/** The latest probe burst as a box: min, p10–p90 whiskers, p25–p75 box, median line. */
function distribution(l: LinkCardView['latency']): string {
  if (!l) return `<p class="muted">${t('latency_none')}</p>`;
  const f = l.figures;
  const v = (k: string) => f[`latency_${k}_ms`]?.value;
  const pts = ['min', 'p10', 'p25', 'p50', 'p75', 'p90', 'max'].map(v);
  const max = Math.max(...pts.filter((x): x is number => x !== undefined), 0.05) * 1.15;
  const X = (x: number | undefined) => (x === undefined ? null : 20 + (x / max) * 560);
  const [mn, p10, p25, p50, p75, p90, mx] = pts.map(X) as [Px, Px, Px, Px, Px, Px, Px];
  const ts = Math.max(...Object.values(f).map((x) => x.ts));
  const box =
    p25 !== null && p75 !== null
      ? `<rect x="${p25}" y="14" width="${Math.max(2, p75 - p25)}" height="28" class="box"/>`
      : '';
  const whisk =
    p10 !== null && p90 !== null ? `<line x1="${p10}" x2="${p90}" y1="28" y2="28" class="whisker"/>` : '';
  const ends = [mn, mx]
    .filter((x): x is number => x !== null)
    .map((x) => `<line x1="${x}" x2="${x}" y1="20" y2="36" class="whisker"/>`)
    .join('');
  const med = p50 !== null ? `<line x1="${p50}" x2="${p50}" y1="10" y2="46" class="median"/>` : '';
  const ticks = [0, max / 2, max]
    .map(
      (x, i) =>
        `<text x="${X(x)}" y="62" class="tick" text-anchor="${['start', 'middle', 'end'][i]}">${x.toFixed(x < 1 ? 2 : x < 10 ? 1 : 0)} ms</text>`,
    )
    .join('');
  return `<svg class="dist" viewBox="0 0 600 70" role="img" aria-label="${esc(t('latency_title'))}">${whisk}${ends}${box}${med}${ticks}</svg>
    <p>min ${num(v('min'), 'ms', 2)} · p50 <strong>${num(v('p50'), 'ms', 2)}</strong> · p90 ${num(v('p90'), 'ms', 2)} · max ${num(v('max'), 'ms', 2)} · ${t('loss')} <strong>${num(f.loss_pct?.value, '%', 0)}</strong>
    <span class="muted">· ${t('latency_from', { s: esc(l.from_site) })}</span> ${age(ts, 5 * 60_000)}</p>`;
}

export async function renderLink(el: HTMLElement, id: string, role: Role, timezone: string): Promise<void> {
  const to = Date.now();
  const from = to - PERIODS[period]!;
  const l = await api<LinkCardView>(`/api/links/${encodeURIComponent(id)}`);
  const hist = async (site: string, device: string | undefined, metric: string): Promise<Series[]> =>
    device
      ? api<Series[]>(
          `/api/history?site=${site}&device=${device}&metric=${metric}&from=${from}&to=${to}&max_points=400`,
        )
      : [];
  const [rxA, rxB, snrA, snrB, inA, outA, incidents] = await Promise.all([
    hist(l.a.site, l.a.device, 'rx_power_dbm'),
    hist(l.b.site, l.b.device, 'rx_power_dbm'),
    hist(l.a.site, l.a.device, 'snr_db'),
    hist(l.b.site, l.b.device, 'snr_db'),
    hist(l.a.site, l.a.device, 'if_in_bps'),
    hist(l.a.site, l.a.device, 'if_out_bps'),
    api<Incident[]>(`/api/incidents?since=${from}&limit=1000`).catch(() => [] as Incident[]),
  ]);
  const mine = incidents.filter((i) => i.subject === id || i.affected.links.includes(id));
  const bands = mine.map((i) => [i.opened_at, i.closed_at ?? to] as [number, number]);
  const st = l.status;
  const crit = l.fade?.critical_db;
  const engineer = role === 'engineer' || role === 'admin';
  el.innerHTML = `
    <p><a href="#map">${t('back_to_map')}</a></p>
    <h2 class="card-title">${esc(l.name ?? l.id)} <span class="badge ${st?.status ?? 'unknown'}">${esc(tk(st?.status ?? 'unknown'))}</span></h2>
    <section class="card verdict ${st?.status ?? 'unknown'}">
      <h3>${t('verdict')}</h3>
      <ul class="verdict-reasons">${(st?.reasons ?? []).map((r) => `<li>${esc(tr(r))}</li>`).join('') || '<li>—</li>'}</ul>
      ${st?.impairment_db !== null && st?.impairment_db !== undefined ? `<p>${t('drop', { d: st.impairment_db.toFixed(1) })}${crit ? ` · ${t('fade_margin')}: <strong>${(crit - st.impairment_db).toFixed(1)} dB</strong>` : ''}</p>` : ''}
      <p class="muted">${l.baseline ? `${t('baseline')}: ${t('baseline_by', { u: esc(l.baseline.recorded_by) })} ${age(l.baseline.recorded_at)}` : t('no_baseline')}
      ${l.status_updated_at ? ` · ${t('verdict')} ${age(l.status_updated_at, 5 * 60_000)}` : ''}</p>
      ${engineer ? `<button type="button" id="record-baseline">${t('record_baseline')}</button> <span id="baseline-msg" role="status"></span>` : ''}
    </section>
    <div class="ends">${endCard('a', l.a, rxA, l.baseline)}${endCard('b', l.b, rxB, l.baseline)}</div>
    <section class="card"><h3>${t('latency_title')}</h3>${distribution(l.latency)}</section>
    <section class="card charts">
      <div class="toolbar">${t('period')}: ${Object.keys(PERIODS)
        .map(
          (p) =>
            `<label><input type="radio" name="period" value="${p}"${p === period ? ' checked' : ''}> ${p}</label>`,
        )
        .join('')}<span class="muted">${bands.length ? t('chart_incidents') : ''}</span></div>
      <div id="chart-rx" class="chart"></div><div id="chart-snr" class="chart"></div><div id="chart-traffic" class="chart"></div>
    </section>`;
  const named = (s: Series[], end: 'a' | 'b', name: string): Line[] =>
    s.map((x, i) => ({
      label: `${end.toUpperCase()} ${name}${x.labels.chain !== undefined ? ` ch${x.labels.chain}` : ''}`,
      color: COLORS[end][i % 2]!,
      points: x.points,
    }));
  const flat = (v: number | undefined, end: 'a' | 'b'): Line[] =>
    v === undefined
      ? []
      : [
          {
            label: `${end.toUpperCase()} ${t('baseline')}`,
            color: COLORS[end][0]!,
            dash: true,
            points: [
              [from, v],
              [to, v],
            ],
          },
        ];
  const range: [number, number] = [from, to];
  drawChart(el.querySelector<HTMLElement>('#chart-rx')!, {
    title: t('chart_rx'),
    lines: [
      ...named(rxA, 'a', 'rx'),
      ...named(rxB, 'b', 'rx'),
      ...flat(l.baseline?.a?.rx_dbm, 'a'),
      ...flat(l.baseline?.b?.rx_dbm, 'b'),
    ],
    bands,
    range,
    timezone,
    empty: t('chart_empty'),
    timeLabel: t('time'),
  });
  drawChart(el.querySelector<HTMLElement>('#chart-snr')!, {
    title: t('chart_snr'),
    lines: [
      ...named(snrA, 'a', 'SNR'),
      ...named(snrB, 'b', 'SNR'),
      ...flat(l.baseline?.a?.snr_db, 'a'),
      ...flat(l.baseline?.b?.snr_db, 'b'),
    ],
    bands,
    range,
    timezone,
    empty: t('chart_empty'),
    timeLabel: t('time'),
  });
  drawChart(el.querySelector<HTMLElement>('#chart-traffic')!, {
    title: t('chart_traffic'),
    lines: [
      ...inA.map((s) => ({
        label: `A in ${s.labels.interface ?? ''}`,
        color: COLORS.a[0]!,
        points: s.points,
      })),
      ...outA.map((s) => ({
        label: `A out ${s.labels.interface ?? ''}`,
        color: COLORS.b[0]!,
        points: s.points,
      })),
    ],
    bands,
    range,
    timezone,
    empty: t('chart_empty'),
    timeLabel: t('time'),
    format: bps,
  });
  if (el.dataset.bound) return;
  el.dataset.bound = '1';
  el.addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    if (input.name !== 'period') return;
    period = input.value;
    void renderLink(el, el.dataset.link ?? id, role, timezone);
  });
  el.addEventListener('click', async (ev) => {
    const btn = (ev.target as HTMLElement).closest<HTMLButtonElement>('#record-baseline');
    if (!btn) return;
    btn.disabled = true;
    const msg = el.querySelector('#baseline-msg')!;
    try {
      await post(`/api/links/${encodeURIComponent(el.dataset.link ?? id)}/baseline`, { minutes: 15 });
      void renderLink(el, el.dataset.link ?? id, role, timezone);
    } catch (e) {
      msg.textContent = (e as Error).message;
      btn.disabled = false;
    }
  });
}
