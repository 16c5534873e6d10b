// Leadership's view: three big answers at a glance — monitoring points live, links in trouble,
// sites cut off.

import { api } from './api.js';
import { age, esc } from './format.js';
import { t, tk, tr } from './i18n.js';
import type { Summary } from './types.js';

export async function renderSummary(el: HTMLElement): Promise<void> {
  const s = await api<Summary>('/api/summary');
  const camState =
    s.cameras.total === 0
      ? 'unknown'
      : s.cameras.active === s.cameras.total
        ? 'ok'
        : s.cameras.active === 0
          ? 'down'
          : 'degraded';
  const links = s.links.trouble;
  const linkState = links.some((l) => l.status === 'down') ? 'down' : links.length ? 'degraded' : 'ok';
  const down = s.sites.down;
  const siteState = down.length ? 'down' : 'ok';
  el.innerHTML = `
    <div class="big-grid">
      <section class="big ${camState}" data-testid="sum-cameras">
        <h2>${t('sum_cameras')}</h2>
        <p class="big-figure">${esc(document.documentElement.lang === 'en' ? s.cameras.en : s.cameras.id)}</p>
      </section>
      <section class="big ${linkState}" data-testid="sum-links">
        <h2>${t('sum_links')}</h2>
        <p class="big-figure">${links.length ? t('sum_of_links', { a: links.length, n: s.links.total }) : t('sum_links_ok', { n: s.links.total })}</p>
        <ul class="big-list">${links
          .map(
            (l) =>
              `<li class="${esc(l.status)}"><strong>${esc(l.name)}</strong> — ${esc(tk(l.status))}${l.reason ? `: ${esc(tr(l.reason))}` : ''} <span class="muted">(${t('since')} ${age(l.since)})</span></li>`,
          )
          .join('')}</ul>
      </section>
      <section class="big ${siteState}" data-testid="sum-sites">
        <h2>${t('sum_sites')}</h2>
        <p class="big-figure">${down.length ? t('sum_of_sites', { a: down.length, n: s.sites.total }) : t('sum_sites_ok', { n: s.sites.total })}</p>
        <ul class="big-list">${down
          .map(
            (d) =>
              `<li class="down"><strong>${esc(d.name)}</strong> — ${esc(tk(d.state))} <span class="muted">(${age(d.last_heard)})</span></li>`,
          )
          .join('')}</ul>
      </section>
    </div>
    <p class="muted">${t('sum_incidents', { n: s.incidents_open })} · ${age(s.server_time)}</p>`;
}
