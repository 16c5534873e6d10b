// How a clock offset reads to an operator: seconds, minutes or hours, both languages in one string.

export function fmtOffset(s: number): string {
  const abs = Math.abs(s);
  const sign = s > 0 ? '+' : '−';
  // Units by the rounded value: 3599.6 s is "+1 jam", not "+60 menit".
  if (Math.round(abs / 60) >= 60) return `${sign}${Math.round((abs / 3600) * 10) / 10} jam/h`;
  if (Math.round(abs) >= 120) return `${sign}${Math.round(abs / 60)} menit/min`;
  return `${sign}${Math.round(abs)} s`;
}
