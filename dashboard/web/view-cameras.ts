// The monitoring-point board (titik pantau): a tile per camera with its picture and its age,
// "X dari N titik aktif", emergency and basic services first, filters by kecamatan and agency.

import { api, post } from './api.js';
import { age, esc } from './format.js';
import { getLang, t, tr } from './i18n.js';
import type { Reason, Role } from './types.js';

interface CameraTile {
  site: string;
  device: string;
  name: string;
  site_name: string;
  kecamatan: string | null;
  agency: string | null;
  priority: 'emergency' | 'basic' | 'normal';
  status: 'ok' | 'degraded' | 'down' | 'unknown';
  active: boolean;
  stale: boolean;
  reasons: Reason[];
  camera: { stream: string; frozen: boolean; black: boolean; last_good_frame: number | null } | null;
  thumbnail: { url: string; ts: number } | null;
}
interface Board {
  summary: { active: number; total: number; id: string; en: string };
  filters: { kecamatan: string[]; agency: string[] };
  tiles: CameraTile[];
}

const filter = { kecamatan: '', agency: '' };

function tileState(c: CameraTile): string {
  if (c.stale) return 'unknown';
  if (c.camera?.black) return 'black';
  if (c.camera?.frozen) return 'frozen';
  return c.status;
}

export async function renderCameras(el: HTMLElement, role: Role): Promise<void> {
  const q = new URLSearchParams();
  if (filter.kecamatan) q.set('kecamatan', filter.kecamatan);
  if (filter.agency) q.set('agency', filter.agency);
  const b = await api<Board>(`/api/cameras${q.size ? `?${q}` : ''}`);
  const select = (name: string, all: 'all_kecamatan' | 'all_agency', values: string[], current: string) =>
    `<select id="filter-${name}" name="${name}" aria-label="${name}"><option value="">${esc(t(all))}</option>${values
      .map((v) => `<option${v === current ? ' selected' : ''}>${esc(v)}</option>`)
      .join('')}</select>`;
  const engineer = role === 'engineer' || role === 'admin';
  const tiles = b.tiles.map((c) => {
    const st = tileState(c);
    const reasons = c.reasons.map(tr).join('; ');
    const img = c.thumbnail
      ? `<img src="${esc(c.thumbnail.url)}" alt="${esc(c.name)}" loading="lazy">`
      : `<div class="noimg">${t('no_picture')}</div>`;
    const prio = c.priority === 'normal' ? '' : `<span class="prio ${c.priority}">${t(c.priority)}</span>`;
    const drift = c.reasons.some((r) => r.code === 'clock_drift');
    return `<article class="tile ${st}${c.active ? ' active' : ''}" data-device="${esc(c.site)}/${esc(c.device)}">
      <div class="thumb">${img}<span class="badge ${st}">${t(st as 'ok')}</span></div>
      <div class="name">${esc(c.name)} ${prio}</div>
      <div class="muted">${esc(c.site_name)}${c.kecamatan ? ` · Kec. ${esc(c.kecamatan)}` : ''}${c.agency ? ` · ${esc(c.agency)}` : ''}</div>
      <div class="muted">${t('last_frame')}: ${age(c.camera?.last_good_frame ?? null, 60_000)}</div>
      ${reasons ? `<div class="reasons">${esc(reasons)}</div>` : ''}
      ${engineer && drift ? `<button type="button" class="sync" data-site="${esc(c.site)}" data-device="${esc(c.device)}">${t('sync_clock')}</button>` : ''}
    </article>`;
  });
  el.innerHTML = `<div class="board-head">
      <strong id="board-summary" class="board-summary">${esc(getLang() === 'id' ? b.summary.id : b.summary.en)}</strong>
      ${select('kecamatan', 'all_kecamatan', b.filters.kecamatan, filter.kecamatan)}
      ${select('agency', 'all_agency', b.filters.agency, filter.agency)}
    </div>
    <div id="board" class="board">${tiles.join('') || `<p class="muted">${t('no_cameras')}</p>`}</div>`;
  if (el.dataset.bound) return;
  el.dataset.bound = '1';
  el.addEventListener('change', (ev) => {
    const s = ev.target as HTMLSelectElement;
    if (s.name !== 'kecamatan' && s.name !== 'agency') return;
    filter[s.name] = s.value;
    void renderCameras(el, role);
  });
  el.addEventListener('click', async (ev) => {
    const btn = (ev.target as HTMLElement).closest<HTMLButtonElement>('button.sync');
    if (!btn) return;
    btn.disabled = true;
    try {
      const r = await post<{ offset_s: number }>(
        `/api/cameras/${btn.dataset.site}/${btn.dataset.device}/clock-sync`,
        {},
      );
      btn.textContent = `${t('clock_set')} (${r.offset_s} s)`;
    } catch (e) {
      btn.textContent = (e as Error).message;
    }
    window.setTimeout(() => void renderCameras(el, role), 1500);
  });
}
