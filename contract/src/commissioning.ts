// The commissioning report as a printable page: one self-contained HTML document (styles inline,
// thumbnails as data: URIs, nothing fetched), rendered the same way on the site box and at the
// central from the one payload both hold.

import { isMetricName, METRICS } from './metrics.js';
import type { CommissionedDevice, CommissioningPayload, Reading } from './payloads.js';

/** The figures a link's day-one record is about; the rest of a poll stays in the JSON. */
export const BASELINE_METRICS = [
  'rx_power_dbm',
  'snr_db',
  'noise_floor_dbm',
  'ccq_pct',
  'capacity_tx_bps',
  'capacity_rx_bps',
  'rate_tx_bps',
  'rate_rx_bps',
  'mcs_index',
  'tx_power_dbm',
  'frequency_mhz',
  'battery_pct',
  'input_voltage_v',
] as const;

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const KIND: Record<string, string> = {
  radio: 'Radio',
  camera: 'Kamera / Camera',
  terminal: 'Terminal absensi / Attendance terminal',
  power: 'Listrik / Power',
  host: 'Perangkat / Device',
};

function fmt(metric: string, v: number): string {
  const unit = isMetricName(metric) ? METRICS[metric].unit : '';
  if (unit === 'bit/s') return v >= 1e6 ? `${(v / 1e6).toFixed(1)} Mbit/s` : `${Math.round(v / 1000)} kbit/s`;
  return `${Math.round(v * 10) / 10}${unit ? ` ${unit}` : ''}`;
}

function label(metric: string): string {
  return isMetricName(metric) ? `${METRICS[metric].id} / ${METRICS[metric].en}` : metric;
}

/** The readings of a device that carry baseline figures, one table row per reading. */
function readingRows(readings: Reading[]): string {
  const rows: string[] = [];
  for (const r of readings) {
    const cells = BASELINE_METRICS.filter((m) => r.values[m] !== undefined).map(
      (m) => `<td>${esc(label(m))}</td><td class="n">${esc(fmt(m, r.values[m]!))}</td>`,
    );
    if (cells.length === 0) continue;
    const scope = r.labels
      ? Object.entries(r.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')
      : '';
    for (const c of cells) rows.push(`<tr><td class="scope">${esc(scope)}</td>${c}</tr>`);
  }
  return rows.length ? `<table><tbody>${rows.join('')}</tbody></table>` : '';
}

function deviceBlock(d: CommissionedDevice): string {
  const who = [d.identity?.vendor, d.identity?.model, d.identity?.firmware].filter(Boolean).join(' · ');
  const notes = d.notes
    .map((n) => `<li class="${n.ok ? 'ok' : 'bad'}">${esc(n.id)} <span class="en">/ ${esc(n.en)}</span></li>`)
    .join('');
  const thumb = d.thumbnail
    ? `<img alt="${esc(d.name ?? d.id)}" src="data:${d.thumbnail.mime};base64,${esc(d.thumbnail.data)}">`
    : '';
  const clock =
    d.clock_offset_s !== undefined
      ? `<p>Selisih jam / Clock offset: <b>${esc(Math.round(d.clock_offset_s * 10) / 10)} s</b></p>`
      : '';
  return `<section class="device ${d.ok ? 'ok' : 'bad'}" id="dev-${esc(d.id)}">
<h3>${esc(d.name ?? d.id)} <small>${esc(d.id)} · ${esc(KIND[d.kind] ?? d.kind)} · ${esc(d.address)}</small></h3>
${d.location ? `<p>Lokasi / Location: ${esc(d.location)}</p>` : ''}${d.priority ? `<p>Prioritas / Priority: ${esc(d.priority)}</p>` : ''}
${who ? `<p>${esc(who)}${d.identity?.serial ? ` (serial ${esc(d.identity.serial)})` : ''}</p>` : ''}
${thumb}${clock}${d.readings ? readingRows(d.readings) : ''}
<ul class="notes">${notes}</ul>
</section>`;
}

export function renderCommissioningHtml(r: CommissioningPayload): string {
  const when = new Date(r.ts);
  let local: string;
  try {
    local = when.toLocaleString('id-ID', { timeZone: r.time_zone, dateStyle: 'long', timeStyle: 'short' });
  } catch {
    local = when.toISOString();
  }
  const ok = r.devices.filter((d) => d.ok).length;
  const links = r.links.map((l) => `<li>${esc(l.a)} ⟷ ${esc(l.b)}</li>`).join('');
  return `<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Laporan komisioning ${esc(r.site_name ?? r.site)} — ${esc(r.id)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111;max-width:60rem}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin-top:1.5rem}h3{font-size:1.05rem;margin:.2rem 0}
h3 small{font-weight:400;color:#555}.en{color:#555}
.summary{background:#f3f4f6;padding:.6rem .8rem;border-radius:6px}
section.device{border:1px solid #ccc;border-radius:6px;padding:.6rem .8rem;margin:.7rem 0;page-break-inside:avoid}
section.device.bad{border-color:#b91c1c}
img{max-width:320px;display:block;margin:.4rem 0;border:1px solid #999}
table{border-collapse:collapse;font-size:.9rem;margin:.4rem 0}td{border-bottom:1px solid #e5e7eb;padding:.15rem .5rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.scope{color:#555}
li.ok::marker{content:'✔ '}li.bad::marker{content:'✘ '}li.bad{color:#991b1b}
@media print{body{margin:0}a{color:inherit}}
</style></head><body>
<h1>Laporan komisioning / Commissioning report</h1>
<p class="summary">Lokasi / Site: <b>${esc(r.site_name ?? r.site)}</b> (${esc(r.site)})<br>
Waktu / Time: ${esc(local)} (${esc(r.time_zone)})<br>
Oleh / By: ${esc(r.by)}${r.note ? ` — ${esc(r.note)}` : ''}<br>
Perangkat baik / Devices OK: <b>${ok} / ${r.devices.length}</b><br>
Laporan / Report: ${esc(r.id)} · gateway ${esc(r.gateway_version)}</p>
${links ? `<h2>Link radio (kedua ujung) / Radio links (both ends)</h2><ul>${links}</ul>` : ''}
${r.thumbnails_omitted ? `<p>${r.thumbnails_omitted} gambar tidak dikirim ke pusat (batas ukuran) / thumbnails left out at the central (size cap)</p>` : ''}
<h2>Perangkat / Devices</h2>
${r.devices.map(deviceBlock).join('\n')}
</body></html>
`;
}
