// Words on the page, Bahasa Indonesia first, in the users' own terms (titik pantau, terhubung /
// terputus, gangguan, jaringan internal Pemda). The choice is remembered in the browser.

import type { Lang, Reason } from './types.js';

const T = {
  app_title: { id: 'Pantau — Ruang Kendali', en: 'Pantau — Control Room' },
  login_title: { id: 'Masuk ke Pantau', en: 'Log in to Pantau' },
  username: { id: 'Nama pengguna', en: 'Username' },
  password: { id: 'Kata sandi', en: 'Password' },
  login: { id: 'Masuk', en: 'Log in' },
  logout: { id: 'Keluar', en: 'Log out' },
  wrong_login: { id: 'Nama pengguna atau kata sandi salah', en: 'Wrong username or password' },
  switch_lang: { id: 'English', en: 'Bahasa Indonesia' },
  live: { id: 'Pembaruan langsung: tersambung', en: 'Live updates: connected' },
  live_lost: { id: 'Pembaruan langsung: terputus, mencoba lagi…', en: 'Live updates: lost, retrying…' },
  forbidden: { id: 'Peran Anda tidak boleh membuka halaman ini.', en: 'Your role may not open this page.' },
  load_failed: { id: 'Gagal memuat data', en: 'Could not load the data' },
  // Views
  nav_summary: { id: 'Ringkasan', en: 'Summary' },
  nav_map: { id: 'Peta jaringan', en: 'Network map' },
  nav_sites: { id: 'Gateway lokasi', en: 'Site boxes' },
  nav_cameras: { id: 'Titik pantau', en: 'Monitoring points' },
  nav_incidents: { id: 'Gangguan', en: 'Incidents' },
  nav_terminals: { id: 'Mesin absensi', en: 'Attendance terminals' },
  nav_devices: { id: 'Perangkat', en: 'Devices' },
  nav_enroll: { id: 'Pendaftaran kotak lokasi', en: 'Enroll a site box' },
  enroll_box: { id: '+ Daftarkan kotak lokasi', en: '+ Enroll a site box' },
  col_device: { id: 'Titik / perangkat', en: 'Place / device' },
  col_latency: { id: 'Latensi', en: 'Latency' },
  col_loss: { id: 'Paket hilang', en: 'Packet loss' },
  no_devices: { id: 'Belum ada data perangkat.', en: 'No device data yet.' },
  kind_radio: { id: 'pemancar radio', en: 'radio transmitter' },
  kind_terminal: { id: 'mesin absensi', en: 'attendance terminal' },
  kind_power: { id: 'listrik / UPS', en: 'power / UPS' },
  kind_host: { id: 'komputer', en: 'host' },
  col_link: { id: 'Tautan', en: 'Link' },
  nav_link: { id: 'Kartu tautan', en: 'Link card' },
  // States
  ok: { id: 'Aktif', en: 'Active' },
  degraded: { id: 'Gangguan', en: 'Disrupted' },
  down: { id: 'Terputus', en: 'Cut off' },
  unknown: { id: 'Belum diketahui', en: 'Unknown' },
  online: { id: 'Terhubung', en: 'Connected' },
  offline: { id: 'Terputus', en: 'Cut off' },
  silent: { id: 'Tidak ada kabar', en: 'Not heard from' },
  frozen: { id: 'Beku', en: 'Frozen' },
  black: { id: 'Hitam', en: 'Black' },
  stale: { id: 'basi', en: 'stale' },
  ago: { id: 'lalu', en: 'ago' },
  never: { id: 'belum pernah', en: 'never' },
  yes: { id: 'ya', en: 'yes' },
  no: { id: 'tidak', en: 'no' },
  // Summary
  sum_cameras: { id: 'Titik pantau', en: 'Monitoring points' },
  sum_links: { id: 'Tautan bermasalah', en: 'Links in trouble' },
  sum_sites: { id: 'Lokasi terputus', en: 'Sites cut off' },
  sum_links_ok: { id: 'Semua {n} tautan baik', en: 'All {n} links fine' },
  sum_sites_ok: { id: 'Semua {n} lokasi terhubung', en: 'All {n} sites connected' },
  sum_of_links: { id: '{a} dari {n} tautan', en: '{a} of {n} links' },
  sum_of_sites: { id: '{a} dari {n} lokasi', en: '{a} of {n} sites' },
  sum_incidents: { id: '{n} gangguan terbuka', en: '{n} open incidents' },
  since: { id: 'sejak', en: 'since' },
  // Map
  map_layout_tree: { id: 'Susunan dari pusat', en: 'Layout from the center' },
  map_layout_geo: { id: 'Menurut koordinat', en: 'By coordinates' },
  map_hint: {
    id: 'Klik tautan untuk membuka kartunya. Warna: hijau baik, kuning gangguan, merah terputus, abu-abu belum diketahui. Angka: penurunan daya terima (dB).',
    en: 'Click a link to open its card. Colours: green fine, amber disrupted, red cut off, grey unknown. Figure: rx power drop (dB).',
  },
  no_backbone: { id: 'Backbone belum diatur.', en: 'No backbone configured.' },
  no_coords: { id: 'tanpa koordinat', en: 'no coordinates' },
  medium_fiber: { id: 'serat optik', en: 'fibre' },
  medium_copper: { id: 'kabel', en: 'cable' },
  medium_wifi: { id: 'wifi', en: 'wifi' },
  medium_internet: { id: 'internet', en: 'internet' },
  standby: { id: 'cadangan', en: 'standby' },
  // Link card
  end_a: { id: 'Ujung arah pusat', en: 'End toward the center' },
  end_b: { id: 'Ujung jauh', en: 'Far end' },
  rx_chain: { id: 'Daya terima rantai {c}', en: 'Rx power chain {c}' },
  rx: { id: 'Daya terima', en: 'Rx power' },
  snr: { id: 'SNR', en: 'SNR' },
  ccq: { id: 'CCQ', en: 'CCQ' },
  capacity: { id: 'Kapasitas kirim / terima', en: 'Capacity tx / rx' },
  capacity_pct: { id: 'Kapasitas airMAX', en: 'airMAX capacity' },
  modulation: { id: 'Modulasi (MCS)', en: 'Modulation (MCS)' },
  traffic: { id: 'Trafik masuk / keluar', en: 'Traffic in / out' },
  baseline: { id: 'Baseline', en: 'Baseline' },
  no_baseline: {
    id: 'Belum ada baseline: rekam saat komisioning agar pelemahan bisa dinilai.',
    en: 'No baseline yet: record one at commissioning so fading can be judged.',
  },
  baseline_by: { id: 'direkam oleh {u}', en: 'recorded by {u}' },
  record_baseline: { id: 'Rekam baseline (15 mnt terakhir)', en: 'Record baseline (last 15 min)' },
  verdict: { id: 'Penilaian', en: 'Verdict' },
  drop: { id: 'turun {d} dB', en: '{d} dB down' },
  fade_margin: { id: 'Sisa batas pelemahan', en: 'Fade margin left' },
  chart_rx: { id: 'Daya terima (dBm), garis putus-putus: baseline', en: 'Rx power (dBm), dashed: baseline' },
  chart_snr: { id: 'SNR (dB)', en: 'SNR (dB)' },
  chart_traffic: { id: 'Trafik (bit/s)', en: 'Traffic (bit/s)' },
  chart_incidents: { id: 'Pita merah: gangguan pada tautan ini', en: 'Red bands: incidents on this link' },
  chart_empty: { id: 'belum ada data pada periode ini', en: 'no data in this period' },
  time: { id: 'Waktu', en: 'Time' },
  latency_title: { id: 'Latensi dan paket hilang', en: 'Latency and packet loss' },
  latency_none: {
    id: 'Belum ada uji latensi melewati tautan ini.',
    en: 'No latency probe crosses this link yet.',
  },
  latency_from: { id: 'diukur dari {s}', en: 'measured from {s}' },
  loss: { id: 'paket hilang', en: 'packet loss' },
  no_device: {
    id: 'Tidak ada perangkat yang dipantau di ujung ini.',
    en: 'No monitored device at this end.',
  },
  period: { id: 'Periode', en: 'Period' },
  back_to_map: { id: '← Peta jaringan', en: '← Network map' },
  // Sites
  col_site: { id: 'Lokasi', en: 'Site' },
  col_state: { id: 'Status', en: 'State' },
  col_last_heard: { id: 'Terakhir terdengar', en: 'Last heard' },
  col_outbox: { id: 'Antrean kirim', en: 'Outbox' },
  col_oldest: { id: 'tertua', en: 'oldest' },
  col_dropped: { id: 'Dibuang', en: 'Dropped' },
  col_missing: { id: 'Bacaan hilang', en: 'Missing readings' },
  col_clock: { id: 'Jam', en: 'Clock' },
  col_version: { id: 'Versi', en: 'Version' },
  col_load: { id: 'Beban', en: 'Load' },
  clock_synced: { id: 'Tersinkron', en: 'Synced' },
  clock_unsynced: { id: 'Belum tersinkron', en: 'Not synced' },
  clock_implausible: { id: 'Jam salah (belum disetel)', en: 'Clock wrong (not set)' },
  clock_holding: { id: 'bacaan ditahan', en: 'readings held' },
  no_sites: { id: 'Belum ada gateway lokasi.', en: 'No site boxes yet.' },
  installer_note: {
    id: 'Semua gateway lokasi ditampilkan: penugasan lokasi per pemasang belum ada.',
    en: 'All site boxes are shown: sites are not yet assigned to installers.',
  },
  // Cameras
  all_kecamatan: { id: 'Semua kecamatan', en: 'All districts' },
  all_agency: { id: 'Semua instansi', en: 'All agencies' },
  last_frame: { id: 'gambar baik terakhir', en: 'last good picture' },
  no_picture: { id: 'Belum ada gambar', en: 'No picture yet' },
  emergency: { id: 'Darurat', en: 'Emergency' },
  basic: { id: 'Layanan dasar', en: 'Basic service' },
  sync_clock: { id: 'Setel jam kamera', en: 'Sync camera clock' },
  clock_set: { id: 'Jam disetel', en: 'Clock set' },
  no_cameras: { id: 'Belum ada kamera.', en: 'No cameras yet.' },
  // Incidents
  inc_open: { id: 'Gangguan terbuka', en: 'Open incidents' },
  inc_recent: { id: 'Gangguan selesai (7 hari)', en: 'Closed incidents (7 days)' },
  inc_none_open: { id: 'Tidak ada gangguan terbuka.', en: 'No open incidents.' },
  inc_none: { id: 'Tidak ada.', en: 'None.' },
  inc_opened: { id: 'mulai', en: 'opened' },
  inc_closed: { id: 'selesai', en: 'closed' },
  inc_lasted: { id: 'lama', en: 'lasted' },
  inc_affected: { id: 'Terdampak', en: 'Affected' },
  inc_ack: { id: 'Tanggapi', en: 'Acknowledge' },
  inc_acked: { id: 'Ditanggapi oleh {u}', en: 'Acknowledged by {u}' },
  inc_note: { id: 'Tambah catatan', en: 'Add note' },
  inc_note_ph: { id: 'Catatan…', en: 'Note…' },
  critical: { id: 'Kritis', en: 'Critical' },
  warning: { id: 'Peringatan', en: 'Warning' },
  outage_power: { id: 'Mati listrik', en: 'Power cut' },
  outage_rf: { id: 'Gangguan radio', en: 'Radio fault' },
  outage_device_hang: { id: 'Perangkat macet', en: 'Device hung' },
  outage_unknown: { id: 'Sebab belum diketahui', en: 'Cause unknown' },
  uptime_title: { id: 'Laporan ketersediaan', en: 'Availability report' },
  uptime_from: { id: 'Dari', en: 'From' },
  uptime_to: { id: 'Sampai', en: 'To' },
  uptime_group: { id: 'Per', en: 'Per' },
  group_link: { id: 'Tautan', en: 'Link' },
  group_site: { id: 'Lokasi', en: 'Site' },
  group_kecamatan: { id: 'Kecamatan', en: 'District (kecamatan)' },
  group_agency: { id: 'Instansi (SKPD)', en: 'Agency (SKPD)' },
  uptime_show: { id: 'Tampilkan', en: 'Show' },
  uptime_csv: { id: 'Unduh CSV', en: 'Download CSV' },
  col_name: { id: 'Nama', en: 'Name' },
  col_avail: { id: 'Tersedia', en: 'Available' },
  col_down: { id: 'Terputus', en: 'Down' },
  col_degraded: { id: 'Gangguan', en: 'Disrupted' },
  col_outages: { id: 'Kejadian', en: 'Outages' },
  col_longest: { id: 'Terlama', en: 'Longest' },
  down_now: { id: 'masih terputus', en: 'still down' },
  // Terminals
  term_summary: { id: 'Mesin absensi', en: 'Attendance terminals' },
  col_terminal: { id: 'Mesin', en: 'Terminal' },
  col_reach: { id: 'Terhubung', en: 'Reachable' },
  col_tclock: { id: 'Selisih jam', en: 'Clock offset' },
  col_fill: { id: 'Memori log', en: 'Log memory' },
  col_punch: { id: 'Absen terakhir', en: 'Last punch' },
  term_up: { id: 'Terhubung', en: 'Reachable' },
  term_busy: { id: 'Sibuk', en: 'Busy' },
  term_hung: { id: 'Macet', en: 'Hung' },
  term_unreachable: { id: 'Tidak terjangkau', en: 'Unreachable' },
  term_auth: { id: 'Kunci ditolak', en: 'Key refused' },
  gaps_title: {
    id: 'Data absensi yang mungkin hilang (24 jam)',
    en: 'Attendance data possibly missing (24 h)',
  },
  gaps_none: { id: 'Tidak ada celah data.', en: 'No gaps in the data.' },
  no_terminals: { id: 'Belum ada mesin absensi.', en: 'No attendance terminals yet.' },
  minutes: { id: '{n} mnt', en: '{n} min' },
} as const satisfies Record<string, Record<Lang, string>>;

export type Key = keyof typeof T;

const STORE_KEY = 'pantau.lang';
let lang: Lang = (localStorage.getItem(STORE_KEY) as Lang | null) ?? 'id';

export const getLang = (): Lang => lang;
export const hasChosenLang = (): boolean => localStorage.getItem(STORE_KEY) !== null;

export function setLang(l: Lang, remember: boolean): void {
  lang = l;
  if (remember) localStorage.setItem(STORE_KEY, l);
  document.documentElement.lang = l;
}

/** The text for a key, with {name} placeholders filled in. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  let s: string = T[key][lang];
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** A bilingual reason from the server in the chosen language. */
export const tr = (r: Reason | { id: string; en: string }): string => (lang === 'id' ? r.id : r.en);

/** For keys built from data (a state name); unknown ones show as they are. */
export function tk(key: string): string {
  return key in T ? T[key as Key][lang] : key;
}
