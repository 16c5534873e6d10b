// Metric names of contract v1. The unit is part of the name, so a number read off the wire can never
// be taken for the wrong unit; this table adds the human label (id + en) the dashboard shows.

export interface MetricInfo {
  unit: string;
  /** Bahasa Indonesia label first, English second. */
  id: string;
  en: string;
  /** gauge: read as is; rate: per second, derived from two counter readings; counter: monotonic total. */
  kind: 'gauge' | 'rate' | 'counter';
}

export const METRICS = {
  // every device
  uptime_s: { unit: 's', id: 'Waktu hidup', en: 'Uptime', kind: 'gauge' },
  cpu_pct: { unit: '%', id: 'Beban CPU', en: 'CPU load', kind: 'gauge' },
  temperature_c: { unit: '°C', id: 'Suhu', en: 'Temperature', kind: 'gauge' },
  // reachability (ICMP bursts)
  latency_ms: { unit: 'ms', id: 'Latensi', en: 'Latency', kind: 'gauge' },
  latency_min_ms: { unit: 'ms', id: 'Latensi min', en: 'Latency min', kind: 'gauge' },
  latency_max_ms: { unit: 'ms', id: 'Latensi maks', en: 'Latency max', kind: 'gauge' },
  jitter_ms: { unit: 'ms', id: 'Jitter', en: 'Jitter', kind: 'gauge' },
  loss_pct: { unit: '%', id: 'Paket hilang', en: 'Packet loss', kind: 'gauge' },
  // the distribution of one burst (SmokePing-style), not only its mean
  latency_p10_ms: { unit: 'ms', id: 'Latensi persentil 10', en: 'Latency 10th percentile', kind: 'gauge' },
  latency_p25_ms: { unit: 'ms', id: 'Latensi persentil 25', en: 'Latency 25th percentile', kind: 'gauge' },
  latency_p50_ms: { unit: 'ms', id: 'Latensi median', en: 'Latency median', kind: 'gauge' },
  latency_p75_ms: { unit: 'ms', id: 'Latensi persentil 75', en: 'Latency 75th percentile', kind: 'gauge' },
  latency_p90_ms: { unit: 'ms', id: 'Latensi persentil 90', en: 'Latency 90th percentile', kind: 'gauge' },
  // radio, vendor-neutral
  frequency_mhz: { unit: 'MHz', id: 'Frekuensi', en: 'Frequency', kind: 'gauge' },
  tx_power_dbm: { unit: 'dBm', id: 'Daya pancar', en: 'Tx power', kind: 'gauge' },
  rx_power_dbm: { unit: 'dBm', id: 'Daya terima', en: 'Rx power', kind: 'gauge' },
  rssi_raw: { unit: '', id: 'RSSI (skala vendor)', en: 'RSSI (vendor scale)', kind: 'gauge' },
  noise_floor_dbm: { unit: 'dBm', id: 'Derau latar', en: 'Noise floor', kind: 'gauge' },
  snr_db: { unit: 'dB', id: 'SNR', en: 'SNR', kind: 'gauge' },
  ccq_pct: { unit: '%', id: 'CCQ', en: 'CCQ', kind: 'gauge' },
  quality_pct: { unit: '%', id: 'Kualitas airMAX', en: 'airMAX quality', kind: 'gauge' },
  capacity_pct: { unit: '%', id: 'Kapasitas airMAX', en: 'airMAX capacity', kind: 'gauge' },
  airtime_pct: { unit: '%', id: 'Airtime', en: 'Airtime', kind: 'gauge' },
  rate_tx_bps: { unit: 'bit/s', id: 'Laju kirim radio', en: 'Radio tx rate', kind: 'gauge' },
  rate_rx_bps: { unit: 'bit/s', id: 'Laju terima radio', en: 'Radio rx rate', kind: 'gauge' },
  capacity_tx_bps: { unit: 'bit/s', id: 'Kapasitas kirim', en: 'Tx capacity', kind: 'gauge' },
  capacity_rx_bps: { unit: 'bit/s', id: 'Kapasitas terima', en: 'Rx capacity', kind: 'gauge' },
  distance_m: { unit: 'm', id: 'Jarak', en: 'Distance', kind: 'gauge' },
  stations_count: { unit: '', id: 'Jumlah stasiun', en: 'Stations', kind: 'gauge' },
  link_uptime_s: { unit: 's', id: 'Lama tautan tersambung', en: 'Link uptime', kind: 'gauge' },
  rx_power_ideal_dbm: { unit: 'dBm', id: 'Daya terima ideal', en: 'Ideal rx power', kind: 'gauge' },
  rx_power_min_dbm: { unit: 'dBm', id: 'Daya terima minimum', en: 'Minimum rx power', kind: 'gauge' },
  signal_level_dbm: { unit: 'dBm', id: 'Level sinyal', en: 'Signal level', kind: 'gauge' },
  mcs_index: { unit: '', id: 'Indeks modulasi (MCS)', en: 'Modulation index (MCS)', kind: 'gauge' },
  chain_imbalance_db: { unit: 'dB', id: 'Selisih antar-rantai', en: 'Chain imbalance', kind: 'gauge' },
  mse_db: { unit: 'dB', id: 'MSE', en: 'MSE', kind: 'gauge' },
  xpi_db: { unit: 'dB', id: 'XPI', en: 'XPI', kind: 'gauge' },
  defective_blocks: { unit: '', id: 'Blok rusak', en: 'Defective blocks', kind: 'counter' },
  utilization_pct: { unit: '%', id: 'Utilisasi kanal', en: 'Channel utilisation', kind: 'gauge' },
  fec_errors: { unit: '', id: 'Galat FEC', en: 'FEC errors', kind: 'counter' },
  crc_errors: { unit: '', id: 'Galat CRC', en: 'CRC errors', kind: 'counter' },
  session_drops: { unit: '', id: 'Sesi terputus', en: 'Session drops', kind: 'counter' },
  dfs_detections: { unit: '', id: 'Deteksi radar (DFS)', en: 'Radar detections (DFS)', kind: 'counter' },
  gps_status: { unit: '', id: 'Status GPS', en: 'GPS status', kind: 'gauge' },
  gps_fix: { unit: '', id: 'GPS fix', en: 'GPS fix', kind: 'gauge' },
  gps_satellites_visible_count: { unit: '', id: 'Satelit terlihat', en: 'Satellites visible', kind: 'gauge' },
  gps_satellites_tracked_count: { unit: '', id: 'Satelit terkunci', en: 'Satellites tracked', kind: 'gauge' },
  // cameras (ONVIF + RTSP probe)
  stream_up: { unit: 'bool', id: 'Video mengalir', en: 'Stream up', kind: 'gauge' },
  video_fps: { unit: 'fps', id: 'Laju bingkai', en: 'Frame rate', kind: 'gauge' },
  video_bitrate_bps: { unit: 'bit/s', id: 'Laju bit video', en: 'Video bit rate', kind: 'gauge' },
  video_width_px: { unit: 'px', id: 'Lebar gambar', en: 'Picture width', kind: 'gauge' },
  video_height_px: { unit: 'px', id: 'Tinggi gambar', en: 'Picture height', kind: 'gauge' },
  video_frozen: { unit: 'bool', id: 'Gambar beku', en: 'Picture frozen', kind: 'gauge' },
  video_black: { unit: 'bool', id: 'Gambar hitam', en: 'Picture black', kind: 'gauge' },
  // interfaces (IF-MIB), labelled with the interface name
  if_in_bps: { unit: 'bit/s', id: 'Trafik masuk', en: 'Traffic in', kind: 'rate' },
  if_out_bps: { unit: 'bit/s', id: 'Trafik keluar', en: 'Traffic out', kind: 'rate' },
  if_oper_up: { unit: 'bool', id: 'Antarmuka aktif', en: 'Interface up', kind: 'gauge' },
  if_speed_bps: { unit: 'bit/s', id: 'Kecepatan antarmuka', en: 'Interface speed', kind: 'gauge' },
  // site box itself
  load1: { unit: '', id: 'Beban 1 menit', en: 'Load (1 min)', kind: 'gauge' },
  mem_rss_bytes: { unit: 'B', id: 'Memori proses', en: 'Process memory', kind: 'gauge' },
  outbox_depth: { unit: '', id: 'Antrean kirim', en: 'Outbox backlog', kind: 'gauge' },
  // attendance terminals (ZKTeco)
  log_records_count: {
    unit: '',
    id: 'Catatan absen tersimpan',
    en: 'Attendance records stored',
    kind: 'gauge',
  },
  log_fill_pct: { unit: '%', id: 'Memori log terisi', en: 'Log memory used', kind: 'gauge' },
  users_count: { unit: '', id: 'Pengguna terdaftar', en: 'Users enrolled', kind: 'gauge' },
  fingerprints_count: { unit: '', id: 'Sidik jari terdaftar', en: 'Fingerprints enrolled', kind: 'gauge' },
  punches_new_count: { unit: '', id: 'Absen baru', en: 'New punches', kind: 'gauge' },
  // a device's or the site box's clock minus true time (cameras, terminals)
  clock_offset_s: { unit: 's', id: 'Selisih jam', en: 'Clock offset', kind: 'gauge' },
  // power: UPS (UPS-MIB, CyberPower, Modbus), solar charge controllers, energy meters.
  // A UPS's line figures without a `phase` label are its first (on most sites its only) phase.
  battery_pct: { unit: '%', id: 'Baterai', en: 'Battery', kind: 'gauge' },
  on_battery: { unit: 'bool', id: 'Memakai baterai', en: 'On battery', kind: 'gauge' },
  battery_low: { unit: 'bool', id: 'Baterai lemah', en: 'Battery low', kind: 'gauge' },
  battery_replace: {
    unit: 'bool',
    id: 'Baterai perlu diganti',
    en: 'Battery needs replacing',
    kind: 'gauge',
  },
  input_fault: { unit: 'bool', id: 'Gangguan listrik masuk', en: 'Input power fault', kind: 'gauge' },
  battery_runtime_s: { unit: 's', id: 'Sisa waktu baterai', en: 'Battery runtime left', kind: 'gauge' },
  time_on_battery_s: { unit: 's', id: 'Lama memakai baterai', en: 'Time on battery', kind: 'gauge' },
  battery_voltage_v: { unit: 'V', id: 'Tegangan baterai', en: 'Battery voltage', kind: 'gauge' },
  battery_current_a: { unit: 'A', id: 'Arus baterai', en: 'Battery current', kind: 'gauge' },
  battery_temperature_c: { unit: '°C', id: 'Suhu baterai', en: 'Battery temperature', kind: 'gauge' },
  input_voltage_v: { unit: 'V', id: 'Tegangan masuk', en: 'Input voltage', kind: 'gauge' },
  input_frequency_hz: { unit: 'Hz', id: 'Frekuensi masuk', en: 'Input frequency', kind: 'gauge' },
  input_current_a: { unit: 'A', id: 'Arus masuk', en: 'Input current', kind: 'gauge' },
  input_power_w: { unit: 'W', id: 'Daya masuk', en: 'Input power', kind: 'gauge' },
  output_voltage_v: { unit: 'V', id: 'Tegangan keluar', en: 'Output voltage', kind: 'gauge' },
  output_frequency_hz: { unit: 'Hz', id: 'Frekuensi keluar', en: 'Output frequency', kind: 'gauge' },
  output_current_a: { unit: 'A', id: 'Arus keluar', en: 'Output current', kind: 'gauge' },
  output_power_w: { unit: 'W', id: 'Daya keluar', en: 'Output power', kind: 'gauge' },
  output_load_pct: { unit: '%', id: 'Beban UPS', en: 'UPS load', kind: 'gauge' },
  bypass_voltage_v: { unit: 'V', id: 'Tegangan bypass', en: 'Bypass voltage', kind: 'gauge' },
  bypass_frequency_hz: { unit: 'Hz', id: 'Frekuensi bypass', en: 'Bypass frequency', kind: 'gauge' },
  bypass_current_a: { unit: 'A', id: 'Arus bypass', en: 'Bypass current', kind: 'gauge' },
  bypass_power_w: { unit: 'W', id: 'Daya bypass', en: 'Bypass power', kind: 'gauge' },
  // one measured line (energy meter) or circuit (a charge controller's load output)
  voltage_v: { unit: 'V', id: 'Tegangan', en: 'Voltage', kind: 'gauge' },
  current_a: { unit: 'A', id: 'Arus', en: 'Current', kind: 'gauge' },
  power_w: { unit: 'W', id: 'Daya aktif', en: 'Active power', kind: 'gauge' },
  apparent_power_va: { unit: 'VA', id: 'Daya semu', en: 'Apparent power', kind: 'gauge' },
  power_factor: { unit: '', id: 'Faktor daya', en: 'Power factor', kind: 'gauge' },
  frequency_hz: { unit: 'Hz', id: 'Frekuensi listrik', en: 'Mains frequency', kind: 'gauge' },
  energy_wh: { unit: 'Wh', id: 'Energi total', en: 'Total energy', kind: 'counter' },
  // solar (charge controller)
  pv_voltage_v: { unit: 'V', id: 'Tegangan panel surya', en: 'PV voltage', kind: 'gauge' },
  pv_current_a: { unit: 'A', id: 'Arus panel surya', en: 'PV current', kind: 'gauge' },
  pv_power_w: { unit: 'W', id: 'Daya panel surya', en: 'PV power', kind: 'gauge' },
  charge_current_a: { unit: 'A', id: 'Arus pengisian', en: 'Charge current', kind: 'gauge' },
  charge_power_w: { unit: 'W', id: 'Daya pengisian', en: 'Charge power', kind: 'gauge' },
  // environment probe next to the equipment (a UPS's sensor)
  ambient_temperature_c: { unit: '°C', id: 'Suhu ruangan', en: 'Ambient temperature', kind: 'gauge' },
  ambient_humidity_pct: { unit: '%', id: 'Kelembapan ruangan', en: 'Ambient humidity', kind: 'gauge' },
} as const satisfies Record<string, MetricInfo>;

export type MetricName = keyof typeof METRICS;

export function isMetricName(s: string): s is MetricName {
  return Object.hasOwn(METRICS, s);
}
