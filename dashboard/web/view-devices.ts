// Every polled device but cameras (which have their board): radios, UPSes, hosts, terminals, with
// their key figures, each with its age; a figure older than three poll intervals is stale.

import { api } from './api.js';
import { bps, esc, num, value } from './format.js';
import { t, tk, tr } from './i18n.js';
import type { DeviceRow, SiteRow } from './types.js';

function cell(d: DeviceRow, label: string, metrics: string[], fmt: (...v: number[]) => string): string {
  const figs = metrics.map((m) => d.figures[m]);
  const present = figs.filter((f) => f !== undefined);
  if (present.length === 0) return `<td data-label="${esc(label)}"><span class="muted">—</span></td>`;
  const oldest = Math.min(...present.map((f) => f.ts));
  const text = fmt(...figs.map((f) => (f ? f.value : Number.NaN)));
  return `<td data-label="${esc(label)}">${value(text, oldest, 3 * d.interval_s * 1000)}</td>`;
}

/** All devices the user may see, or one site's (#devices/<site>). */
export async function renderDevices(el: HTMLElement, site: string | null = null): Promise<void> {
  const [devices, sites] = await Promise.all([
    api<DeviceRow[]>(site ? `/api/devices?site=${encodeURIComponent(site)}` : '/api/devices'),
    api<SiteRow[]>('/api/sites'),
  ]);
  const siteName = new Map(sites.map((s) => [s.site, s.name]));
  const list = devices
    .filter((d) => d.kind !== 'camera')
    .sort((a, b) => a.site.localeCompare(b.site) || a.name.localeCompare(b.name));
  const rows = list.map((d) => {
    const status = d.stale ? 'unknown' : d.status;
    const reasons = d.reasons.map(tr).join('; ');
    const maybe = (v: number, f: (x: number) => string) => (Number.isNaN(v) ? '—' : f(v));
    return `<tr class="row-${status}" data-device="${esc(d.site)}/${esc(d.device)}">
      <td data-label="${t('col_device')}"><div><strong>${esc(d.name)}</strong><div class="muted">${esc(siteName.get(d.site) ?? d.site)} · ${esc(tk(`kind_${d.kind}`))}</div></div></td>
      <td data-label="${t('col_state')}"><div><span class="badge ${status}">${esc(tk(status))}</span>${reasons ? `<div class="reasons">${esc(reasons)}</div>` : ''}</div></td>
      ${cell(d, t('rx'), ['rx_power_dbm'], (v) => num(v, 'dBm'))}
      ${cell(d, t('snr'), ['snr_db'], (v) => num(v, 'dB'))}
      ${cell(d, t('ccq'), ['ccq_pct'], (v) => num(v, '%'))}
      ${cell(d, t('traffic'), ['if_in_bps', 'if_out_bps'], (a, b) => `${maybe(a, bps)} / ${maybe(b, bps)}`)}
      ${cell(d, t('col_latency'), ['latency_ms'], (v) => num(v, 'ms', v < 10 ? 2 : 1))}
      ${cell(d, t('col_loss'), ['loss_pct'], (v) => num(v, '%'))}
    </tr>`;
  });
  el.innerHTML = `<div class="table-wrap"><table class="grid" id="devices-table">
    <thead><tr><th>${t('col_device')}</th><th>${t('col_state')}</th><th>${t('rx')}</th><th>${t('snr')}</th><th>${t('ccq')}</th><th>${t('traffic')}</th><th>${t('col_latency')}</th><th>${t('col_loss')}</th></tr></thead>
    <tbody>${rows.join('') || `<tr><td colspan="8" class="muted">${t('no_devices')}</td></tr>`}</tbody></table></div>`;
}
