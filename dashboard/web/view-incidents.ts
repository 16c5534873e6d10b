// Incidents: open ones first with what they affect, acknowledgement and notes for operators and
// engineers; closed ones of the last week; an availability report for a chosen period with CSV.

import { api, post } from './api.js';
import { age, clock, duration, esc } from './format.js';
import { t, tk, tr } from './i18n.js';
import type { Incident, Role, UptimeRow } from './types.js';

const RESPONDERS: Role[] = ['admin', 'engineer', 'operator'];
const report = { from: '', to: '', group: 'site' };

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function card(i: Incident, role: Role): string {
  const open = i.closed_at === null;
  const can = RESPONDERS.includes(role);
  const affected = [...i.affected.sites, ...i.affected.links].slice(0, 12);
  return `<article class="incident ${i.severity}${open ? ' open' : ''}" data-key="${esc(i.key)}" data-opened="${i.opened_at}">
    <header><span class="badge ${i.severity === 'critical' ? 'down' : 'degraded'}">${t(i.severity)}</span>
      ${i.outage ? `<span class="badge outage">${t(`outage_${i.outage.label}` as 'outage_power')}</span>` : ''}
      <strong>${esc(tr(i.title))}</strong></header>
    <p class="muted">${t('inc_opened')} ${esc(clock(i.opened_at))} (${age(i.opened_at)})${open ? '' : ` · ${t('inc_closed')} ${esc(clock(i.closed_at!))} · ${t('inc_lasted')} ${duration(i.closed_at! - i.opened_at)}`}</p>
    ${i.outage ? `<p>${esc(tr(i.outage.reason))}</p>` : ''}
    ${affected.length ? `<p>${t('inc_affected')}: ${affected.map((a) => `<span class="chip">${esc(a)}</span>`).join(' ')}${i.affected.sites.length + i.affected.links.length > 12 ? ' …' : ''}</p>` : ''}
    ${i.acknowledged ? `<p class="acked">✓ ${t('inc_acked', { u: esc(i.acknowledged.by) })} ${age(i.acknowledged.at)}</p>` : ''}
    <ul class="notes">${i.notes
      .filter((n) => n.text)
      .map(
        (n) =>
          `<li><strong>${esc(n.username)}</strong> <span class="muted">${esc(clock(n.at))}</span>: ${esc(n.text)}</li>`,
      )
      .join('')}</ul>
    ${
      can
        ? `<form class="note-form">${open && !i.acknowledged ? `<button type="button" class="ack">${t('inc_ack')}</button>` : ''}
        <input name="text" maxlength="2000" placeholder="${esc(t('inc_note_ph'))}" aria-label="${esc(t('inc_note'))}">
        <button type="submit" class="ghost-dark">${t('inc_note')}</button></form>`
        : ''
    }
  </article>`;
}

async function renderReport(el: HTMLElement): Promise<void> {
  const from = Date.parse(`${report.from}T00:00:00`);
  const to = Date.parse(`${report.to}T23:59:59`);
  const target = el.querySelector<HTMLElement>('#uptime-result')!;
  const q = `from=${from}&to=${Math.min(to, Date.now())}&group=${report.group}`;
  const csv = el.querySelector<HTMLAnchorElement>('#uptime-csv')!;
  csv.href = `/api/uptime?${q}&format=csv`;
  try {
    const r = await api<{ rows: UptimeRow[] }>(`/api/uptime?${q}`);
    target.innerHTML = `<div class="table-wrap"><table class="grid" id="uptime-table"><thead><tr><th>${t('col_name')}</th><th>${t('col_avail')}</th><th>${t('col_down')}</th><th>${t('col_degraded')}</th><th>${t('col_outages')}</th><th>${t('col_longest')}</th></tr></thead><tbody>${r.rows
      .map(
        (
          x,
        ) => `<tr class="${x.down_now ? 'row-down' : x.availability_pct < 99 ? 'row-degraded' : ''}"><td data-label="${t('col_name')}">${esc(x.name)}${x.down_now ? ` <span class="badge down">${t('down_now')}</span>` : ''}</td>
          <td data-label="${t('col_avail')}"><strong>${x.availability_pct.toFixed(2)}%</strong></td>
          <td data-label="${t('col_down')}">${duration(x.down_ms)}</td><td data-label="${t('col_degraded')}">${duration(x.degraded_ms)}</td>
          <td data-label="${t('col_outages')}">${x.outages}</td><td data-label="${t('col_longest')}">${duration(x.longest_ms)}</td></tr>`,
      )
      .join('')}</tbody></table></div>`;
  } catch (e) {
    target.innerHTML = `<p class="error">${esc((e as Error).message)}</p>`;
  }
}

export async function renderIncidents(el: HTMLElement, role: Role): Promise<void> {
  // A half-written note is not thrown away by a live refresh.
  const typing = [...el.querySelectorAll<HTMLInputElement>('.note-form input')].some((i) => i.value);
  if (typing) return;
  const since = Date.now() - 7 * 86400_000;
  const all = await api<Incident[]>(`/api/incidents?since=${since}&limit=500`);
  const open = await api<Incident[]>('/api/incidents?open=true');
  const closed = all.filter((i) => i.closed_at !== null).sort((a, b) => b.closed_at! - a.closed_at!);
  open.sort(
    (a, b) =>
      (a.severity === 'critical' ? 0 : 1) - (b.severity === 'critical' ? 0 : 1) || b.opened_at - a.opened_at,
  );
  if (!report.to) {
    report.to = day(Date.now());
    report.from = day(Date.now() - 30 * 86400_000);
  }
  const groups = ['link', 'site', 'kecamatan', 'agency'];
  el.innerHTML = `
    <h2>${t('inc_open')} (${open.length})</h2>
    <div id="incidents-open" class="incidents">${open.map((i) => card(i, role)).join('') || `<p class="muted">${t('inc_none_open')}</p>`}</div>
    <h2>${t('uptime_title')}</h2>
    <form id="uptime-form" class="toolbar card">
      <label>${t('uptime_from')} <input type="date" name="from" value="${report.from}" required></label>
      <label>${t('uptime_to')} <input type="date" name="to" value="${report.to}" required></label>
      <label>${t('uptime_group')} <select name="group">${groups.map((g) => `<option value="${g}"${g === report.group ? ' selected' : ''}>${t(`group_${g}` as 'group_site')}</option>`).join('')}</select></label>
      <button type="submit">${t('uptime_show')}</button>
      <a id="uptime-csv" class="button-link" download>${t('uptime_csv')}</a>
    </form>
    <div id="uptime-result"></div>
    <h2>${t('inc_recent')} (${closed.length})</h2>
    <div id="incidents-closed" class="incidents">${
      closed
        .slice(0, 50)
        .map((i) => card(i, role))
        .join('') || `<p class="muted">${t('inc_none')}</p>`
    }</div>`;
  await renderReport(el);
  if (el.dataset.bound) return;
  el.dataset.bound = '1';
  // The chosen period and grouping survive a live refresh of the view.
  el.addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement | HTMLSelectElement;
    if (!input.closest('#uptime-form')) return;
    if (input.name === 'from' || input.name === 'to' || input.name === 'group')
      report[input.name] = input.value;
  });
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    if (form.id === 'uptime-form') {
      const f = new FormData(form);
      report.from = String(f.get('from'));
      report.to = String(f.get('to'));
      report.group = String(f.get('group'));
      await renderReport(el);
      return;
    }
    const art = form.closest<HTMLElement>('.incident');
    const input = form.querySelector<HTMLInputElement>('input[name=text]')!;
    if (!art || !input.value.trim()) return;
    await post('/api/incidents/note', {
      key: art.dataset.key,
      opened_at: Number(art.dataset.opened),
      text: input.value.trim(),
    });
    input.value = '';
    await renderIncidents(el, role);
  });
  el.addEventListener('click', async (ev) => {
    const btn = (ev.target as HTMLElement).closest<HTMLButtonElement>('button.ack');
    const art = btn?.closest<HTMLElement>('.incident');
    if (!btn || !art) return;
    btn.disabled = true;
    const text = art.querySelector<HTMLInputElement>('input[name=text]')?.value.trim();
    await post('/api/incidents/ack', {
      key: art.dataset.key,
      opened_at: Number(art.dataset.opened),
      ...(text ? { text } : {}),
    });
    const input = art.querySelector<HTMLInputElement>('input[name=text]');
    if (input) input.value = '';
    await renderIncidents(el, role);
  });
  void tk;
}
