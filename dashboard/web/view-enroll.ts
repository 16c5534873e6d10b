// Pendaftaran kotak lokasi / Enroll a site box: issue a one-time token for a site, shown as text and
// as a QR code with its expiry, and the tokens issued so far (pending ones can be withdrawn). The
// token is shown once, right after it is made: the central keeps only its hash.

import { api, post } from './api.js';
import { clock, esc } from './format.js';
import { getLang } from './i18n.js';
import type { SiteRow } from './types.js';

const W = {
  intro: {
    id: 'Buat token sekali pakai untuk satu lokasi. Pemasang mengetik token (atau memindai kode QR) di kotak lokasi: kotak itu lalu menerima identitas lokasi dan akunnya dari pusat lewat jaringan internal Pemda.',
    en: 'Make a one-time token for one site. The installer types the token (or scans the QR code) on the site box, which then receives its site id and account from the central over the government network.',
  },
  site: { id: 'Lokasi (id)', en: 'Site (id)' },
  ttl: { id: 'Berlaku', en: 'Valid for' },
  hours: { id: '{n} jam', en: '{n} h' },
  days: { id: '{n} hari', en: '{n} days' },
  new_site: { id: 'Lokasi baru (belum ada di backbone)', en: 'New site (not in the backbone yet)' },
  issue: { id: 'Buat token', en: 'Issue token' },
  token_for: { id: 'Token untuk lokasi {site}', en: 'Token for site {site}' },
  once: {
    id: 'Sekali pakai, berlaku sampai {t}. Token hanya ditampilkan sekarang: catat atau pindai.',
    en: 'One use, valid until {t}. The token is shown only now: write it down or scan it.',
  },
  on_box: { id: 'Di kotak lokasi:', en: 'On the site box:' },
  issued: { id: 'Token yang sudah dibuat', en: 'Tokens issued' },
  col_site: { id: 'Lokasi', en: 'Site' },
  col_status: { id: 'Status', en: 'Status' },
  col_by: { id: 'Dibuat oleh', en: 'Issued by' },
  col_until: { id: 'Berlaku sampai', en: 'Valid until' },
  col_used: { id: 'Dipakai', en: 'Used' },
  revoke: { id: 'Cabut', en: 'Withdraw' },
  none: { id: 'Belum ada token.', en: 'No tokens yet.' },
  pending: { id: 'Menunggu', en: 'Pending' },
  used: { id: 'Sudah dipakai', en: 'Used' },
  expired: { id: 'Kedaluwarsa', en: 'Expired' },
  revoked: { id: 'Dicabut', en: 'Withdrawn' },
} as const;
const w = (k: keyof typeof W, vars: Record<string, string | number> = {}): string => {
  let s: string = W[k][getLang()];
  for (const [n, v] of Object.entries(vars)) s = s.replaceAll(`{${n}}`, String(v));
  return s;
};

interface EnrollmentRow {
  id: string;
  site: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_from: string | null;
  box: { hostname: string; version: string } | null;
  status: 'pending' | 'used' | 'expired' | 'revoked';
}
interface Issued extends EnrollmentRow {
  token: string;
  qr_svg: string;
}

const BADGE = { pending: 'degraded', used: 'ok', expired: 'unknown', revoked: 'down' } as const;
/** The token just issued: kept while the page is open, so a live refresh does not wipe it. */
let issued: Issued | null = null;

function issuedCard(): string {
  if (!issued) return '';
  const cmd = `pantau-gateway enroll --central ${location.origin} --token ${issued.token}`;
  return `<div class="card enroll-issued">
    <h3>${esc(w('token_for', { site: issued.site }))}</h3>
    <div class="enroll-pair">
      <div id="enroll-qr" class="enroll-qr">${issued.qr_svg}</div>
      <div>
        <p id="enroll-token" class="enroll-token">${esc(issued.token)}</p>
        <p>${esc(w('once', { t: clock(issued.expires_at) }))}</p>
        <p class="muted">${esc(w('on_box'))}</p>
        <pre class="enroll-cmd">${esc(cmd)}</pre>
      </div>
    </div>
  </div>`;
}

function table(rows: EnrollmentRow[]): string {
  const body = rows
    .map(
      (r) => `<tr data-enrollment="${esc(r.id)}">
      <td data-label="${esc(w('col_site'))}">${esc(r.site)}</td>
      <td data-label="${esc(w('col_status'))}"><span class="badge ${BADGE[r.status]}">${esc(w(r.status))}</span></td>
      <td data-label="${esc(w('col_by'))}">${esc(r.created_by)}</td>
      <td data-label="${esc(w('col_until'))}">${esc(clock(r.expires_at))}</td>
      <td data-label="${esc(w('col_used'))}">${r.used_at ? `${esc(clock(r.used_at))}<div class="muted">${esc(r.box?.hostname ?? '')} · ${esc(r.used_from ?? '')}</div>` : '<span class="muted">—</span>'}</td>
      <td>${r.status === 'pending' ? `<button type="button" class="ghost-dark" data-revoke="${esc(r.id)}">${esc(w('revoke'))}</button>` : ''}</td>
    </tr>`,
    )
    .join('');
  return `<div class="table-wrap"><table class="grid"><thead><tr><th>${esc(w('col_site'))}</th><th>${esc(w('col_status'))}</th><th>${esc(w('col_by'))}</th><th>${esc(w('col_until'))}</th><th>${esc(w('col_used'))}</th><th></th></tr></thead>
    <tbody>${body || `<tr><td colspan="6" class="muted">${esc(w('none'))}</td></tr>`}</tbody></table></div>`;
}

async function refreshList(el: HTMLElement): Promise<void> {
  const rows = await api<EnrollmentRow[]>('/api/enrollments');
  el.querySelector('#enroll-issued')!.innerHTML = issuedCard();
  el.querySelector('#enroll-list')!.innerHTML = table(rows);
}

function form(sites: SiteRow[]): string {
  const ttl = [1, 4, 24, 72, 168]
    .map(
      (h) =>
        `<option value="${h}"${h === 24 ? ' selected' : ''}>${esc(h < 24 ? w('hours', { n: h }) : w('days', { n: h / 24 }))}</option>`,
    )
    .join('');
  return `<p class="hint">${esc(w('intro'))}</p>
    <form id="enroll-form" class="toolbar">
      <label>${esc(w('site'))} <input name="site" list="enroll-sites" required pattern="[a-z0-9][a-z0-9-]*" autocomplete="off"></label>
      <datalist id="enroll-sites">${sites.map((s) => `<option value="${esc(s.site)}">${esc(s.name)}</option>`).join('')}</datalist>
      <label>${esc(w('ttl'))} <select name="ttl_h">${ttl}</select></label>
      <label><input type="checkbox" name="new_site"> ${esc(w('new_site'))}</label>
      <button type="submit">${esc(w('issue'))}</button>
    </form>
    <p id="enroll-error" class="error" role="alert"></p>
    <div id="enroll-issued"></div>
    <h3>${esc(w('issued'))}</h3>
    <div id="enroll-list"></div>`;
}

export async function renderEnroll(el: HTMLElement): Promise<void> {
  // Built once: a live refresh redraws the list, not the form someone is typing in.
  if (el.dataset.lang !== getLang()) {
    const sites = await api<SiteRow[]>('/api/sites').catch(() => [] as SiteRow[]);
    el.innerHTML = form(sites);
    el.dataset.lang = getLang();
    const err = el.querySelector<HTMLElement>('#enroll-error')!;
    el.querySelector<HTMLFormElement>('#enroll-form')!.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target as HTMLFormElement);
      err.textContent = '';
      try {
        issued = await post<Issued>('/api/enrollments', {
          site: String(f.get('site') ?? '').trim(),
          ttl_h: Number(f.get('ttl_h')),
          ...(f.get('new_site') ? { new_site: true } : {}),
        });
        await refreshList(el);
      } catch (e) {
        err.textContent = (e as Error).message;
      }
    });
  }
  // On the view itself, which outlives a redraw in another language: bound once, or one click
  // would revoke twice.
  if (!el.dataset.bound) {
    el.dataset.bound = '1';
    el.addEventListener('click', async (ev) => {
      const id = (ev.target as HTMLElement).closest<HTMLElement>('[data-revoke]')?.dataset.revoke;
      if (!id) return;
      try {
        await post(`/api/enrollments/${encodeURIComponent(id)}/revoke`, {});
        if (issued?.id === id) issued = null;
        await refreshList(el);
      } catch (e) {
        el.querySelector<HTMLElement>('#enroll-error')!.textContent = (e as Error).message;
      }
    });
  }
  await refreshList(el);
}
