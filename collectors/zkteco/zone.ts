// A terminal keeps a wall clock with no zone; the site's IANA zone (e.g. Asia/Makassar for WITA)
// turns it into an instant and back. Only Intl, no tables of our own.

import type { WallClock } from './protocol.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // throws RangeError for an unknown zone
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the zone. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Wall clock by Intl itself (slow: a formatToParts per call). */
function intlWallClock(epochMs: number, timeZone: string): WallClock {
  const parts = formatter(timeZone).formatToParts(new Date(epochMs));
  const get = (t: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === t)?.value ?? 0);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour') % 24,
    minute: get('minute'),
    second: get('second'),
  };
}

const asUtc = (w: WallClock): number => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

// Zone offsets change only on quarter hours (every real zone's transitions do), so one Intl call per
// zone and quarter hour is enough: a 100,000-record log converts in milliseconds.
const QUARTER = 15 * 60 * 1000;
const offsets = new Map<string, Map<number, number>>();

/** The zone's offset from UTC at `epochMs`, in ms (Asia/Makassar: +8 h). */
export function zoneOffsetMs(epochMs: number, timeZone: string): number {
  let byZone = offsets.get(timeZone);
  if (!byZone) {
    formatter(timeZone); // validate
    byZone = new Map();
    offsets.set(timeZone, byZone);
  }
  const q = Math.floor(epochMs / QUARTER);
  let off = byZone.get(q);
  if (off === undefined) {
    const at = q * QUARTER;
    off = asUtc(intlWallClock(at, timeZone)) - at;
    if (byZone.size > 100_000) byZone.clear();
    byZone.set(q, off);
  }
  return off;
}

/** The wall clock in `timeZone` at `epochMs` (whole seconds, truncated). */
export function wallClockAt(epochMs: number, timeZone: string): WallClock {
  const d = new Date(Math.floor(epochMs / 1000) * 1000 + zoneOffsetMs(epochMs, timeZone));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/**
 * The instant at which `timeZone` shows wall clock `w` (ms since epoch). When the clock is shown
 * twice (summer time ending) the earlier instant wins; when never (its start) the offset from before
 * the change is used. Indonesian zones have neither.
 */
export function epochOfWallClock(w: WallClock, timeZone: string): number {
  const guess = asUtc(w);
  const DAY = 86_400_000;
  const candidates = [
    guess - zoneOffsetMs(guess - DAY, timeZone),
    guess - zoneOffsetMs(guess + DAY, timeZone),
  ];
  const shown = candidates.filter((c) => asUtc(wallClockAt(c, timeZone)) === guess);
  return shown.length > 0 ? Math.min(...shown) : (candidates[0] as number);
}

/** "2024-05-17 08:30:15", for messages. */
export function formatWallClock(w: WallClock): string {
  const p = (n: number, l = 2) => String(n).padStart(l, '0');
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}:${p(w.second)}`;
}
