// Values as people read them: each with its age, stale ones marked as stale.

import { t } from './i18n.js';

let skewMs = 0;
/** Server clock minus ours: ages are counted against the server's time. */
export const setSkew = (ms: number): void => {
  skewMs = ms;
};
export const now = (): number => Date.now() + skewMs;

export function esc(s: string | number | null | undefined): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const id = document.documentElement.lang !== 'en';
  if (s < 60) return `${s} ${id ? 'dtk' : 's'}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${id ? 'mnt' : 'min'}`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} ${id ? 'jam' : 'h'} ${Math.floor((s % 3600) / 60)} ${id ? 'mnt' : 'min'}`;
  return `${Math.floor(s / 86400)} ${id ? 'hari' : 'd'} ${Math.floor((s % 86400) / 3600)} ${id ? 'jam' : 'h'}`;
}

export function ageText(ts: number | null): string {
  if (ts === null) return t('never');
  return `${duration(now() - ts)} ${t('ago')}`;
}

/**
 * An age that keeps ticking (see tickAges). With staleAfterMs the value is marked stale once older:
 * the age says so and the element carrying `data-stale-after` is greyed by the stylesheet.
 */
export function age(ts: number | null, staleAfterMs?: number): string {
  const stale = ts !== null && staleAfterMs !== undefined && now() - ts > staleAfterMs;
  return `<span class="age${stale ? ' is-stale' : ''}" data-ts="${ts ?? ''}"${staleAfterMs !== undefined ? ` data-stale-after="${staleAfterMs}"` : ''}>${stale ? `${t('stale')} · ` : ''}${ageText(ts)}</span>`;
}

/** Refreshes every age on the page without a round trip; values that went stale turn grey. */
export function tickAges(): void {
  for (const el of document.querySelectorAll<HTMLElement>('.age[data-ts]')) {
    const ts = Number(el.dataset.ts);
    if (!ts) continue;
    const after = el.dataset.staleAfter ? Number(el.dataset.staleAfter) : undefined;
    const stale = after !== undefined && now() - ts > after;
    el.classList.toggle('is-stale', stale);
    el.closest('.value')?.classList.toggle('stale', stale);
    el.textContent = `${stale ? `${t('stale')} · ` : ''}${ageText(ts)}`;
  }
}

export function bps(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} Gbit/s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} Mbit/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)} kbit/s`;
  return `${Math.round(v)} bit/s`;
}

export function num(v: number | undefined | null, unit: string, digits = 0): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

/** A value with its age underneath; stale after `staleAfterMs` (greyed, "basi"). */
export function value(text: string, ts: number | null, staleAfterMs?: number): string {
  const stale = ts !== null && staleAfterMs !== undefined && now() - ts > staleAfterMs;
  return `<span class="value${stale ? ' stale' : ''}"><span class="v">${esc(text)}</span>${ts === null ? '' : age(ts, staleAfterMs)}</span>`;
}

let tz = 'Asia/Makassar';
export const setTimezone = (z: string): void => {
  tz = z;
};
export function clock(ts: number): string {
  return new Intl.DateTimeFormat(document.documentElement.lang === 'en' ? 'en-GB' : 'id-ID', {
    timeZone: tz,
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(ts);
}

/** A moment to the second, for the audit log (two changes in one minute must be told apart). */
export function clockSeconds(ts: number): string {
  return new Intl.DateTimeFormat(document.documentElement.lang === 'en' ? 'en-GB' : 'id-ID', {
    timeZone: tz,
    dateStyle: 'medium',
    timeStyle: 'medium',
  }).format(ts);
}
