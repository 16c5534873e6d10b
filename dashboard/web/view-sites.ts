// Site boxes: connected or cut off, last heard, outbox backlog, dropped and missing readings, clock,
// version and load — what an engineer or installer checks first when data stops arriving.

import { api } from './api.js';
import { age, duration, esc, num, value } from './format.js';
import { t } from './i18n.js';
import type { ClockStatus, Role, SequenceReport, SiteRow } from './types.js';

/** A site box reports its health every minute or so; a health report older than this is stale. */
const HEALTH_STALE_MS = 5 * 60_000;
/** Ranges listed before the rest is counted: a site with hundreds of holes stays one readable cell. */
const RANGES_SHOWN = 5;
/** Sites whose sequence details the user opened: kept open across the view's refreshes. */
const opened = new Set<string>();

/** "4–6, 9, 12–15 … dan 3 lagi": the first ranges, then how many more. */
export function rangeList(ranges: ReadonlyArray<readonly [number, number]>): string {
  const shown = ranges
    .slice(0, RANGES_SHOWN)
    .map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`))
    .join(', ');
  const rest = ranges.length - RANGES_SHOWN;
  return rest > 0 ? `${shown} ${t('seq_more', { n: rest })}` : shown;
}

/** Which numbers never arrived, and which a restart left unused (so they are not mistaken for losses). */
function sequenceDetail(r: SequenceReport): string {
  const received =
    r.first !== null && r.last !== null
      ? `<div class="muted">${esc(t('seq_received', { n: r.received, a: r.first, b: r.last }))}</div>`
      : '';
  const missing = r.missing.length
    ? `<div class="seq-missing bad">${t('seq_missing')}: ${esc(rangeList(r.missing))}</div>`
    : `<div class="seq-missing">${t('seq_none_missing')}</div>`;
  const skipped = r.skipped.length
    ? `<div class="seq-skipped muted">${t('seq_skipped')}: ${esc(rangeList(r.skipped))}</div>`
    : '';
  return missing + skipped + received;
}

async function sequenceOf(site: string): Promise<SequenceReport | null> {
  try {
    return await api<SequenceReport>(`/api/sites/${encodeURIComponent(site)}/sequence`);
  } catch {
    return null;
  }
}

function clockCell(c: ClockStatus | null | undefined): string {
  if (!c) return '<span class="muted">—</span>';
  if (c.plausible === false)
    return `<span class="badge down">${t('clock_implausible')}</span>${c.holding ? ` <span class="muted">${t('clock_holding')}</span>` : ''}`;
  return `<span class="badge ${c.synced ? 'ok' : 'degraded'}">${t(c.synced ? 'clock_synced' : 'clock_unsynced')}</span> <span class="muted">${esc(c.source)}${c.holding ? ` · ${t('clock_holding')}` : ''}</span>`;
}

export async function renderSites(el: HTMLElement, role: Role, assigned: string[] | null): Promise<void> {
  const sites = (await api<SiteRow[]>('/api/sites')).sort(
    (a, b) =>
      Number(a.state === 'online' && !a.silent) - Number(b.state === 'online' && !b.silent) ||
      a.name.localeCompare(b.name),
  );
  // The ranges for every site with a loss, and for those the user opened; the rest on request.
  const reports = new Map(
    await Promise.all(
      sites
        .filter((s) => s.missing_readings > 0 || opened.has(s.site))
        .map(async (s) => [s.site, await sequenceOf(s.site)] as const),
    ),
  );
  const rows = sites.map((s) => {
    const report = reports.get(s.site) ?? null;
    const open = s.missing_readings > 0 || opened.has(s.site);
    const state = s.state === 'online' && s.silent ? 'silent' : s.state;
    const cls = state === 'online' ? 'ok' : state === 'offline' ? 'down' : 'unknown';
    const h = s.health;
    const outbox = h?.outbox ?? null;
    const clock = h?.clock ?? s.clock;
    return `<tr class="row-${cls}" data-site="${esc(s.site)}">
      <td data-label="${t('col_site')}"><div><a href="#devices/${encodeURIComponent(s.site)}"><strong>${esc(s.name)}</strong></a><div class="muted">${esc(s.site)}</div></div></td>
      <td data-label="${t('col_state')}"><span class="badge ${cls}">${t(state === 'online' ? 'online' : state === 'offline' ? 'offline' : state === 'silent' ? 'silent' : 'unknown')}</span></td>
      <td data-label="${t('col_last_heard')}">${age(s.last_heard, 180_000)}</td>
      <td data-label="${t('col_outbox')}">${outbox ? value(`${outbox.depth}${outbox.depth && outbox.oldest_ts ? ` · ${t('col_oldest')} ${duration(h!.ts - outbox.oldest_ts)}` : ''}`, h!.ts, HEALTH_STALE_MS) : num(s.outbox_depth, '')}</td>
      <td data-label="${t('col_dropped')}" class="${s.dropped ? 'bad' : ''}">${num(s.dropped, '')}</td>
      <td data-label="${t('col_missing')}"><div><span class="missing-count${s.missing_readings ? ' bad' : ''}">${num(s.missing_readings, '')}</span>
        <details class="seq"${open ? ' open' : ''}><summary>${t('seq_details')}</summary><div class="seq-body">${report ? sequenceDetail(report) : ''}</div></details></div></td>
      <td data-label="${t('col_clock')}"><div>${clockCell(clock)}</div></td>
      <td data-label="${t('col_version')}">${esc(s.version ?? '—')}</td>
      <td data-label="${t('col_load')}">${h ? value(h.load1.toFixed(2), h.ts, HEALTH_STALE_MS) : '—'}</td>
    </tr>`;
  });
  el.innerHTML = `
    ${role === 'installer' ? `<p class="note" id="assigned-sites">${assigned?.length ? esc(t('installer_sites', { sites: assigned.join(', ') })) : t('installer_no_sites')}</p>` : ''}
    <p class="toolbar"><a class="button-link" href="#enroll" id="to-enroll">${t('enroll_box')}</a></p>
    <div class="table-wrap"><table class="grid" id="sites-table">
      <thead><tr><th>${t('col_site')}</th><th>${t('col_state')}</th><th>${t('col_last_heard')}</th><th>${t('col_outbox')}</th><th>${t('col_dropped')}</th><th>${t('col_missing')}</th><th>${t('col_clock')}</th><th>${t('col_version')}</th><th>${t('col_load')}</th></tr></thead>
      <tbody>${rows.join('') || `<tr><td colspan="9" class="muted">${t('no_sites')}</td></tr>`}</tbody>
    </table></div>`;
  for (const d of el.querySelectorAll<HTMLDetailsElement>('#sites-table details.seq')) {
    const site = d.closest('tr')!.dataset.site!;
    d.addEventListener('toggle', async () => {
      if (!d.open) {
        opened.delete(site);
        return;
      }
      opened.add(site);
      const body = d.querySelector('.seq-body')!;
      if (body.childElementCount > 0) return;
      const r = await sequenceOf(site);
      body.innerHTML = r ? sequenceDetail(r) : `<span class="muted">${t('load_failed')}</span>`;
    });
  }
}
