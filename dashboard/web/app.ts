// The command-center page: site boxes, radio links and recent events, updated live, every value
// with its age. Bahasa Indonesia first, English on request.

type Lang = 'id' | 'en';

interface Figure {
  value: number;
  ts: number;
  age_s: number;
  stale: boolean;
}
interface Reason {
  code: string;
  id: string;
  en: string;
}
interface DeviceRow {
  site: string;
  device: string;
  name: string;
  kind: string;
  status: 'ok' | 'degraded' | 'down' | 'unknown';
  reasons: Reason[];
  last_seen: number | null;
  stale: boolean;
  interval_s: number;
  figures: Record<string, Figure>;
}
interface SiteRow {
  site: string;
  name: string;
  state: 'online' | 'offline' | 'unknown';
  last_heard: number | null;
  silent: boolean;
  version: string | null;
  outbox_depth: number | null;
  dropped: number | null;
  missing_readings: number;
}
interface EventRow {
  site: string;
  ts: number;
  severity: string;
  type: string;
  message: { id: string; en: string };
}

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
  camera: {
    onvif: string | null;
    stream: string;
    frozen: boolean;
    black: boolean;
    last_good_frame: number | null;
    clock_offset_s?: number;
    notice?: Reason;
  } | null;
  thumbnail: { url: string; ts: number } | null;
}
interface Board {
  summary: { active: number; total: number; id: string; en: string };
  filters: { kecamatan: string[]; agency: string[] };
  tiles: CameraTile[];
}

const T: Record<string, { id: string; en: string }> = {
  board_title: { id: 'Titik pantau (kamera)', en: 'Monitoring points (cameras)' },
  all_kecamatan: { id: 'Semua kecamatan', en: 'All districts' },
  all_agency: { id: 'Semua instansi', en: 'All agencies' },
  last_frame: { id: 'gambar baik terakhir', en: 'last good picture' },
  frozen: { id: 'Beku', en: 'Frozen' },
  black: { id: 'Hitam', en: 'Black' },
  no_picture: { id: 'Belum ada gambar', en: 'No picture yet' },
  emergency: { id: 'Darurat', en: 'Emergency' },
  basic: { id: 'Layanan dasar', en: 'Basic service' },
  sync_clock: { id: 'Setel jam kamera', en: 'Sync camera clock' },
  clock_synced: { id: 'Jam kamera disetel', en: 'Camera clock set' },
  no_cameras: { id: 'Belum ada kamera.', en: 'No cameras yet.' },
  login_title: { id: 'Masuk ke Pantau', en: 'Log in to Pantau' },
  username: { id: 'Nama pengguna', en: 'Username' },
  password: { id: 'Kata sandi', en: 'Password' },
  login: { id: 'Masuk', en: 'Log in' },
  logout: { id: 'Keluar', en: 'Log out' },
  sites_title: { id: 'Gateway lokasi', en: 'Site boxes' },
  links_title: { id: 'Tautan radio dan perangkat', en: 'Radio links and devices' },
  events_title: { id: 'Kejadian terbaru', en: 'Recent events' },
  col_name: { id: 'Titik / perangkat', en: 'Place / device' },
  col_status: { id: 'Status', en: 'Status' },
  col_rx: { id: 'Daya terima', en: 'Rx power' },
  col_snr: { id: 'SNR', en: 'SNR' },
  col_ccq: { id: 'CCQ', en: 'CCQ' },
  col_capacity: { id: 'Kapasitas', en: 'Capacity' },
  col_traffic: { id: 'Trafik masuk / keluar', en: 'Traffic in / out' },
  col_latency: { id: 'Latensi', en: 'Latency' },
  col_loss: { id: 'Paket hilang', en: 'Packet loss' },
  online: { id: 'Terhubung', en: 'Connected' },
  offline: { id: 'Terputus', en: 'Cut off' },
  unknown: { id: 'Belum diketahui', en: 'Unknown' },
  ok: { id: 'Aktif', en: 'Active' },
  degraded: { id: 'Gangguan', en: 'Disrupted' },
  down: { id: 'Tidak aktif', en: 'Down' },
  silent: { id: 'tidak ada kabar', en: 'not heard from' },
  ago: { id: 'lalu', en: 'ago' },
  stale: { id: 'basi', en: 'stale' },
  last_heard: { id: 'terakhir terdengar', en: 'last heard' },
  never: { id: 'belum pernah', en: 'never' },
  backlog: { id: 'antrean kirim', en: 'outbox' },
  missing: { id: 'bacaan hilang', en: 'readings missing' },
  dropped: { id: 'dibuang (antrean penuh)', en: 'dropped (outbox full)' },
  summary_sites: { id: '{a} dari {n} gateway lokasi terhubung', en: '{a} of {n} site boxes connected' },
  summary_links: { id: '{a} dari {n} perangkat aktif', en: '{a} of {n} devices active' },
  live: { id: 'Pembaruan langsung: tersambung', en: 'Live updates: connected' },
  live_lost: { id: 'Pembaruan langsung: terputus, mencoba lagi…', en: 'Live updates: lost, retrying…' },
  wrong_login: { id: 'Nama pengguna atau kata sandi salah', en: 'Wrong username or password' },
  no_devices: { id: 'Belum ada data perangkat.', en: 'No device data yet.' },
};

let lang: Lang = (localStorage.getItem('pantau.lang') as Lang | null) ?? 'id';
let timezone = 'Asia/Makassar';
/** Server clock minus ours: ages are computed against the server's time. */
let skewMs = 0;
const sites = new Map<string, SiteRow>();
const devices = new Map<string, DeviceRow>();
let events: EventRow[] = [];
let board: Board | null = null;
let role = 'operator';
const boardFilter = { kecamatan: '', agency: '' };

const $ = <E extends HTMLElement>(sel: string) => document.querySelector(sel) as E;
const t = (k: string) => T[k]?.[lang] ?? k;
const now = () => Date.now() + skewMs;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function age(ts: number | null): string {
  if (ts === null) return t('never');
  const s = Math.max(0, Math.round((now() - ts) / 1000));
  const txt =
    s < 60
      ? `${s} ${lang === 'id' ? 'dtk' : 's'}`
      : s < 3600
        ? `${Math.floor(s / 60)} ${lang === 'id' ? 'mnt' : 'min'}`
        : s < 86400
          ? `${Math.floor(s / 3600)} ${lang === 'id' ? 'jam' : 'h'}`
          : `${Math.floor(s / 86400)} ${lang === 'id' ? 'hari' : 'd'}`;
  return `${txt} ${t('ago')}`;
}

function bps(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} Gbit/s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} Mbit/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)} kbit/s`;
  return `${Math.round(v)} bit/s`;
}

function isStaleFig(f: Figure, d: DeviceRow): boolean {
  return now() - f.ts > 3 * d.interval_s * 1000;
}

function cell(d: DeviceRow, label: string, metrics: string[], fmt: (...v: number[]) => string): string {
  const figs = metrics.map((m) => d.figures[m]);
  const present = figs.filter((f): f is Figure => !!f);
  if (present.length === 0) return `<td data-label="${esc(label)}"><span class="muted">—</span></td>`;
  const oldest = Math.min(...present.map((f) => f.ts));
  const stale = present.some((f) => isStaleFig(f, d));
  const text = fmt(...figs.map((f) => (f ? f.value : Number.NaN)));
  return `<td data-label="${esc(label)}" class="${stale ? 'stale' : ''}"><span class="v">${esc(text)}</span><span class="age" data-ts="${oldest}">${stale ? `${t('stale')} · ` : ''}${age(oldest)}</span></td>`;
}

const n = (v: number, unit: string, digits = 0) => (Number.isNaN(v) ? '—' : `${v.toFixed(digits)} ${unit}`);

function renderSites(): void {
  const list = [...sites.values()].sort((a, b) => a.name.localeCompare(b.name));
  $('#sites').innerHTML = list
    .map((s) => {
      const state = s.state === 'online' && s.silent ? 'unknown' : s.state;
      return `<div class="card site ${state}">
        <div class="name">${esc(s.name)}</div>
        <span class="badge ${state}">${t(state)}${s.state === 'online' && s.silent ? ` · ${t('silent')}` : ''}</span>
        <div class="muted">${t('last_heard')}: <span data-ts="${s.last_heard ?? ''}">${age(s.last_heard)}</span>${s.outbox_depth ? ` · ${t('backlog')}: ${s.outbox_depth}` : ''}${s.missing_readings ? ` · <strong class="bad">${t('missing')}: ${s.missing_readings}</strong>` : ''}${s.dropped ? ` · <strong class="bad">${t('dropped')}: ${s.dropped}</strong>` : ''}${s.version ? ` · v${esc(s.version)}` : ''}</div>
      </div>`;
    })
    .join('');
}

function renderLinks(): void {
  // Cameras have their own board.
  const list = [...devices.values()]
    .filter((d) => d.kind !== 'camera')
    .sort((a, b) => a.site.localeCompare(b.site) || a.name.localeCompare(b.name));
  const body = list.map((d) => {
    const status = d.stale ? 'unknown' : d.status;
    const reasons = d.reasons.map((r) => (lang === 'id' ? r.id : r.en)).join('; ');
    const site = sites.get(d.site)?.name ?? d.site;
    return `<tr class="status-${status}">
      <td data-label="${t('col_name')}"><span class="v">${esc(d.name)}</span><span class="age">${esc(site)}</span></td>
      <td data-label="${t('col_status')}"><span class="badge ${status}" title="${esc(reasons)}">${t(status)}</span>${reasons ? `<span class="age">${esc(reasons)}</span>` : ''}${d.stale ? `<span class="age">${t('stale')} · ${age(d.last_seen)}</span>` : ''}</td>
      ${cell(d, t('col_rx'), ['rx_power_dbm'], (v) => n(v, 'dBm'))}
      ${cell(d, t('col_snr'), ['snr_db'], (v) => n(v, 'dB'))}
      ${cell(d, t('col_ccq'), ['ccq_pct'], (v) => n(v, '%'))}
      ${d.figures.capacity_tx_bps ? cell(d, t('col_capacity'), ['capacity_tx_bps', 'capacity_rx_bps'], (a, b) => `${bps(a)} / ${bps(b)}`) : cell(d, t('col_capacity'), ['capacity_pct'], (v) => n(v, '%'))}
      ${cell(d, t('col_traffic'), ['if_in_bps', 'if_out_bps'], (a, b) => `${Number.isNaN(a) ? '—' : bps(a)} / ${Number.isNaN(b) ? '—' : bps(b)}`)}
      ${cell(d, t('col_latency'), ['latency_ms'], (v) => n(v, 'ms', v < 10 ? 2 : 1))}
      ${cell(d, t('col_loss'), ['loss_pct'], (v) => n(v, '%'))}
    </tr>`;
  });
  $('#links tbody').innerHTML =
    body.join('') || `<tr><td colspan="9" class="muted">${t('no_devices')}</td></tr>`;
}

function renderEvents(): void {
  const fmt = new Intl.DateTimeFormat(lang === 'id' ? 'id-ID' : 'en-GB', {
    timeZone: timezone,
    dateStyle: 'short',
    timeStyle: 'medium',
  });
  $('#events').innerHTML = events
    .slice(0, 20)
    .map(
      (e) =>
        `<li class="${esc(e.severity)}"><span class="muted">${fmt.format(e.ts)} · ${esc(sites.get(e.site)?.name ?? e.site)}</span><br>${esc(lang === 'id' ? e.message.id : e.message.en)}</li>`,
    )
    .join('');
}

function tileState(c: CameraTile): string {
  if (c.stale) return 'unknown';
  if (c.camera?.black) return 'black';
  if (c.camera?.frozen) return 'frozen';
  return c.status;
}

function renderBoard(): void {
  const b = board;
  $('#board-summary').textContent = b ? (lang === 'id' ? b.summary.id : b.summary.en) : '';
  const select = (id: string, all: string, values: string[], current: string) => {
    const el = $<HTMLSelectElement>(id);
    el.innerHTML = [
      `<option value="">${esc(t(all))}</option>`,
      ...values.map((v) => `<option${v === current ? ' selected' : ''}>${esc(v)}</option>`),
    ].join('');
  };
  select('#filter-kecamatan', 'all_kecamatan', b?.filters.kecamatan ?? [], boardFilter.kecamatan);
  select('#filter-agency', 'all_agency', b?.filters.agency ?? [], boardFilter.agency);
  const engineer = role === 'engineer' || role === 'admin';
  $('#board').innerHTML =
    (b?.tiles ?? [])
      .map((c) => {
        const st = tileState(c);
        const reasons = c.reasons.map((r) => (lang === 'id' ? r.id : r.en)).join('; ');
        const img = c.thumbnail
          ? `<img src="${esc(c.thumbnail.url)}" alt="${esc(c.name)}" loading="lazy">`
          : `<div class="noimg">${t('no_picture')}</div>`;
        const prio =
          c.priority === 'normal' ? '' : `<span class="prio ${c.priority}">${t(c.priority)}</span>`;
        const drift = c.reasons.some((r) => r.code === 'clock_drift');
        return `<article class="tile ${st}${c.active ? ' active' : ''}" data-device="${esc(c.site)}/${esc(c.device)}">
          <div class="thumb">${img}<span class="badge ${st}">${t(st)}</span></div>
          <div class="name">${esc(c.name)} ${prio}</div>
          <div class="muted">${esc(c.site_name)}${c.kecamatan ? ` · Kec. ${esc(c.kecamatan)}` : ''}${c.agency ? ` · ${esc(c.agency)}` : ''}</div>
          <div class="muted">${t('last_frame')}: <span data-ts="${c.camera?.last_good_frame ?? ''}">${age(c.camera?.last_good_frame ?? null)}</span></div>
          ${reasons ? `<div class="reasons">${esc(reasons)}</div>` : ''}
          ${engineer && drift ? `<button type="button" class="sync" data-site="${esc(c.site)}" data-device="${esc(c.device)}">${t('sync_clock')}</button>` : ''}
        </article>`;
      })
      .join('') || `<p class="muted">${t('no_cameras')}</p>`;
}

async function loadBoard(): Promise<void> {
  const q = new URLSearchParams();
  if (boardFilter.kecamatan) q.set('kecamatan', boardFilter.kecamatan);
  if (boardFilter.agency) q.set('agency', boardFilter.agency);
  board = await api<Board>(`/api/cameras${q.size ? `?${q}` : ''}`);
  renderBoard();
}

function renderSummary(): void {
  const s = [...sites.values()];
  const d = [...devices.values()].filter((x) => x.kind !== 'camera');
  const sOk = s.filter((x) => x.state === 'online' && !x.silent).length;
  const dOk = d.filter((x) => x.status === 'ok' && !x.stale).length;
  $('#summary').textContent =
    `${t('summary_sites').replace('{a}', String(sOk)).replace('{n}', String(s.length))} · ${t('summary_links').replace('{a}', String(dOk)).replace('{n}', String(d.length))}`;
}

function render(): void {
  for (const el of document.querySelectorAll<HTMLElement>('[data-t]')) el.textContent = t(el.dataset.t!);
  $('#lang').textContent = lang === 'id' ? 'English' : 'Bahasa Indonesia';
  $('#logout').textContent = t('logout');
  document.documentElement.lang = lang;
  renderBoard();
  renderSites();
  renderLinks();
  renderEvents();
  renderSummary();
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

async function loadAll(): Promise<void> {
  const [s, d, e] = await Promise.all([
    api<SiteRow[]>('/api/sites'),
    api<DeviceRow[]>('/api/devices'),
    api<EventRow[]>('/api/events?limit=50'),
  ]);
  sites.clear();
  for (const x of s) sites.set(x.site, x);
  devices.clear();
  for (const x of d) devices.set(`${x.site}/${x.device}`, x);
  events = e;
  await loadBoard();
  render();
}

function connectLive(): void {
  const es = new EventSource('/api/stream');
  let refresh: number | undefined;
  // Live messages tell what changed; the API gives the computed view (ages, stale flags).
  const soon = () => {
    window.clearTimeout(refresh);
    refresh = window.setTimeout(() => void loadAll().catch(() => {}), 300);
  };
  es.addEventListener('hello', (m) => {
    skewMs =
      (JSON.parse((m as MessageEvent<string>).data) as { server_time: number }).server_time - Date.now();
    $('#conn').textContent = t('live');
  });
  for (const type of ['gateway-state', 'device-state', 'event', 'thumbnail']) es.addEventListener(type, soon);
  es.onerror = () => {
    $('#conn').textContent = t('live_lost');
  };
}

function showApp(): void {
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
}

async function start(): Promise<void> {
  render();
  try {
    const me = await api<{ language: Lang; timezone: string; role: string }>('/api/me');
    role = me.role;
    if (!localStorage.getItem('pantau.lang')) lang = me.language;
    timezone = me.timezone;
    showApp();
    await loadAll();
    connectLive();
  } catch {
    $('#login').hidden = false;
  }
}

for (const [sel, key] of [
  ['#filter-kecamatan', 'kecamatan'],
  ['#filter-agency', 'agency'],
] as const)
  $<HTMLSelectElement>(sel).addEventListener('change', (ev) => {
    boardFilter[key] = (ev.target as HTMLSelectElement).value;
    void loadBoard();
  });

$('#board').addEventListener('click', async (ev) => {
  const btn = (ev.target as HTMLElement).closest<HTMLButtonElement>('button.sync');
  if (!btn) return;
  btn.disabled = true;
  const res = await fetch(`/api/cameras/${btn.dataset.site}/${btn.dataset.device}/clock-sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const body = (await res.json().catch(() => ({}))) as { offset_s?: number; message?: string };
  btn.textContent = res.ok
    ? `${t('clock_synced')} (${body.offset_s} s)`
    : (body.message ?? String(res.status));
  void loadBoard();
});

$('#lang').addEventListener('click', () => {
  lang = lang === 'id' ? 'en' : 'id';
  localStorage.setItem('pantau.lang', lang);
  render();
});

$('#logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  location.reload();
});

$<HTMLFormElement>('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target as HTMLFormElement);
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: f.get('username'), password: f.get('password') }),
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    $('#login-error').textContent =
      res.status === 401 ? t('wrong_login') : (body.message ?? String(res.status));
    return;
  }
  await start();
});

// Ages tick every second without a round trip.
window.setInterval(() => {
  for (const el of document.querySelectorAll<HTMLElement>('[data-ts]')) {
    const ts = Number(el.dataset.ts);
    if (!ts) continue;
    const prefix = el.textContent?.startsWith(t('stale')) ? `${t('stale')} · ` : '';
    el.textContent = `${prefix}${age(ts)}`;
  }
}, 1000);

void start();
