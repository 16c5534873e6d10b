// Attendance terminals for BKD staff, per agency: reachable, clock, log memory, last punch, and the
// stretches when an agency's attendance data may be missing because its link was down.

import { api } from './api.js';
import { age, clock, esc, num } from './format.js';
import { getLang, t, tr } from './i18n.js';
import type { Reason } from './types.js';

interface TerminalRow {
  site: string;
  device: string;
  name: string;
  site_name: string;
  status: string;
  stale: boolean;
  reasons: Reason[];
  terminal: {
    state: 'up' | 'busy' | 'hung' | 'unreachable' | 'auth';
    clock_offset_s?: number;
    fill?: { records_pct: number; records: number; records_capacity: number };
    last_punch: { ts: number } | null;
  } | null;
  state_age_s: number;
}
interface Board {
  summary: { reachable: number; total: number; id: string; en: string };
  agencies: Array<{ agency: string; total: number; reachable: number; terminals: TerminalRow[] }>;
}
interface Gaps {
  agencies: Array<{
    agency: string;
    minutes: number;
    gaps: Array<{ site_name: string; from: number; to: number; minutes: number; title: Reason }>;
  }>;
}

function row(r: TerminalRow): string {
  const term = r.terminal;
  const st = r.stale ? 'unknown' : term?.state === 'up' ? 'ok' : term?.state === 'busy' ? 'degraded' : 'down';
  const off = term?.clock_offset_s;
  const stateAt = Date.now() - r.state_age_s * 1000;
  return `<tr class="row-${st}">
    <td data-label="${t('col_terminal')}"><div><strong>${esc(r.name)}</strong><div class="muted">${esc(r.site_name)}</div></div></td>
    <td data-label="${t('col_reach')}"><div><span class="badge ${st}">${r.stale ? t('stale') : t(`term_${term?.state ?? 'unreachable'}` as 'term_up')}</span> ${age(stateAt, 15 * 60_000)}
      ${r.reasons.length ? `<div class="reasons">${r.reasons.map((x) => esc(tr(x))).join('; ')}</div>` : ''}</div></td>
    <td data-label="${t('col_tclock')}" class="${off !== undefined && Math.abs(off) > 120 ? 'bad' : ''}">${num(off, 's')}</td>
    <td data-label="${t('col_fill')}" class="${(term?.fill?.records_pct ?? 0) > 90 ? 'bad' : ''}">${term?.fill ? `<div>${term.fill.records_pct.toFixed(0)}% <span class="muted">(${term.fill.records}/${term.fill.records_capacity})</span></div>` : '—'}</td>
    <td data-label="${t('col_punch')}">${term?.last_punch ? `<div>${esc(clock(term.last_punch.ts))} ${age(term.last_punch.ts)}</div>` : '—'}</td>
  </tr>`;
}

export async function renderTerminals(el: HTMLElement): Promise<void> {
  const [b, gaps] = await Promise.all([
    api<Board>('/api/terminals'),
    api<Gaps>('/api/attendance/gaps').catch(() => ({ agencies: [] }) as Gaps),
  ]);
  const gapsOf = new Map(gaps.agencies.map((g) => [g.agency, g]));
  el.innerHTML = `<p class="board-summary" id="terminals-summary">${esc(getLang() === 'id' ? b.summary.id : b.summary.en)}</p>
    ${
      b.agencies
        .map((a) => {
          const g = gapsOf.get(a.agency);
          return `<section class="card agency" data-agency="${esc(a.agency)}"><h3>${esc(a.agency)} <span class="muted">${a.reachable}/${a.total}</span></h3>
          <div class="table-wrap"><table class="grid"><thead><tr><th>${t('col_terminal')}</th><th>${t('col_reach')}</th><th>${t('col_tclock')}</th><th>${t('col_fill')}</th><th>${t('col_punch')}</th></tr></thead>
          <tbody>${a.terminals.map(row).join('')}</tbody></table></div>
          ${g?.gaps.length ? `<h4>${t('gaps_title')}</h4><ul class="gaps">${g.gaps.map((x) => `<li><strong>${esc(x.site_name)}</strong>: ${esc(clock(x.from))} – ${esc(clock(x.to))} (${t('minutes', { n: x.minutes })}) — ${esc(tr(x.title))}</li>`).join('')}</ul>` : ''}
        </section>`;
        })
        .join('') || `<p class="muted">${t('no_terminals')}</p>`
    }
    <h3>${t('gaps_title')}</h3>
    <ul class="gaps" id="gaps">${
      gaps.agencies
        .filter((g) => g.gaps.length)
        .map((g) => `<li><strong>${esc(g.agency)}</strong>: ${t('minutes', { n: g.minutes })}</li>`)
        .join('') || `<li class="muted">${t('gaps_none')}</li>`
    }</ul>`;
}
