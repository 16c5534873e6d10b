// The audit log, for admins and engineers: who changed what, when, from where. Filtered by period,
// user and action; the newest first.

import { api } from './api.js';
import { clockSeconds, esc } from './format.js';
import { t, tk } from './i18n.js';
import type { AuditRow } from './types.js';

const ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'user_added',
  'user_removed',
  'user_role',
  'user_sites',
  'user_disabled',
  'user_enabled',
  'user_password_reset',
  'password_changed',
  'password_change_failed',
  'incident_acknowledged',
  'incident_note',
  'baseline_recorded',
  'camera_clock_sync',
  'terminal_clock_sync',
];

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** The filter survives a redraw (a language switch). */
const filter = { from: '', to: '', user: '', action: '' };

function detailText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('; ');
}

async function renderRows(el: HTMLElement): Promise<void> {
  const q = new URLSearchParams({ limit: '500' });
  // Dates are whole days in the browser's calendar: "to" includes its day.
  if (filter.from) q.set('from', String(new Date(`${filter.from}T00:00`).getTime()));
  if (filter.to) q.set('to', String(new Date(`${filter.to}T00:00`).getTime() + 86_400_000));
  if (filter.user) q.set('user', filter.user);
  if (filter.action) q.set('action', filter.action);
  const rows = await api<AuditRow[]>(`/api/audit?${q}`);
  const body = el.querySelector('#audit-table tbody')!;
  body.innerHTML =
    rows
      .map(
        (
          r,
        ) => `<tr class="row-${/failed/.test(r.action) || r.detail.ok === false ? 'degraded' : 'ok'}" data-action="${esc(r.action)}" data-target="${esc(r.target)}">
      <td data-label="${t('col_time')}">${esc(clockSeconds(r.ts))}</td>
      <td data-label="${t('audit_user')}"><div><strong>${esc(r.user)}</strong>${r.role ? `<div class="muted">${esc(tk(`role_${r.role}`))}</div>` : ''}</div></td>
      <td data-label="${t('audit_action')}">${esc(tk(`act_${r.action}`))}</td>
      <td data-label="${t('col_target')}">${esc(r.target ?? '—')}</td>
      <td data-label="${t('col_detail')}" class="detail">${esc(detailText(r.detail))}</td>
      <td data-label="${t('col_remote')}">${esc(r.remote ?? '—')}</td>
    </tr>`,
      )
      .join('') || `<tr><td colspan="6" class="muted">${t('audit_none')}</td></tr>`;
}

export async function renderAudit(el: HTMLElement): Promise<void> {
  if (!filter.from) {
    filter.from = day(Date.now() - 7 * 86_400_000);
    filter.to = day(Date.now());
  }
  el.innerHTML = `
    <form id="audit-form" class="toolbar card">
      <label>${t('audit_from')} <input type="date" name="from" value="${filter.from}"></label>
      <label>${t('audit_to')} <input type="date" name="to" value="${filter.to}"></label>
      <label>${t('audit_user')} <input name="user" value="${esc(filter.user)}" size="12"></label>
      <label>${t('audit_action')} <select name="action"><option value="">${t('audit_any')}</option>${ACTIONS.map((a) => `<option value="${a}"${a === filter.action ? ' selected' : ''}>${esc(tk(`act_${a}`))}</option>`).join('')}</select></label>
      <button type="submit">${t('audit_show')}</button>
    </form>
    <div class="table-wrap"><table class="grid" id="audit-table">
      <thead><tr><th>${t('col_time')}</th><th>${t('audit_user')}</th><th>${t('audit_action')}</th><th>${t('col_target')}</th><th>${t('col_detail')}</th><th>${t('col_remote')}</th></tr></thead>
      <tbody></tbody>
    </table></div>`;
  await renderRows(el);
  if (el.dataset.bound) return;
  el.dataset.bound = '1';
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target as HTMLFormElement);
    filter.from = String(f.get('from') ?? '');
    filter.to = String(f.get('to') ?? '');
    filter.user = String(f.get('user') ?? '').trim();
    filter.action = String(f.get('action') ?? '');
    void renderRows(el);
  });
}
