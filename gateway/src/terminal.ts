// An attendance terminal's health as BKD staff need it: reachable, clock right, log memory not
// about to fill (terminals hang when full), and punches arriving on a working day. The terminal is
// read in short sessions by the ZKTeco client; this module judges what it said.

import type { TerminalResult } from '@pantau/collectors/zkteco';
import type { EventPayload, Reading, Reason, Status, TerminalStatus } from '@pantau/contract';
import { fmtOffset } from './format.js';

export interface WorkingHours {
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  days: number[];
  /** "HH:MM", the site's local time. */
  start: string;
  end: string;
}

export interface TerminalSettings {
  clock_warn_s: number;
  fill_warn_pct: number;
  fill_critical_pct: number;
  /** How long after the start of a working day without any punch before it is said. */
  no_punch_grace_min: number;
  working_hours: WorkingHours;
}

export interface TerminalEvent {
  type: EventPayload['type'];
  severity: EventPayload['severity'];
  message: { id: string; en: string };
  data?: Record<string, unknown>;
}

export interface TerminalJudgeMemory {
  drift: boolean;
  fillLevel: 0 | 1 | 2;
  hung: boolean;
  /** The working day (YYYY-MM-DD) already reported as silent. */
  silentDay: string | null;
  lastPunch: { ts: number; user_id: string; punch: number } | null;
}

export function newTerminalJudgeMemory(): TerminalJudgeMemory {
  return { drift: false, fillLevel: 0, hung: false, silentDay: null, lastPunch: null };
}

const r = (code: string, id: string, en: string): Reason => ({ code, id, en });

/** The site's local calendar day, weekday and minutes since midnight at `ts`. */
export function localTime(ts: number, timeZone: string): { day: string; weekday: number; minutes: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(ts)
      .map((p) => [p.type, p.value]),
  );
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday!) + 1;
  return {
    day: `${parts.year}-${parts.month}-${parts.day}`,
    weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const hm = (s: string) => {
  const [h, m] = s.split(':').map(Number);
  return h! * 60 + m!;
};

export interface TerminalJudgement {
  status: Status;
  reasons: Reason[];
  terminal: TerminalStatus;
  readings: Reading[];
  events: TerminalEvent[];
}

export function judgeTerminal(
  res: TerminalResult,
  mem: TerminalJudgeMemory,
  cfg: TerminalSettings,
  ctx: { name: string; timeZone: string; now: number },
): TerminalJudgement {
  const events: TerminalEvent[] = [];
  const reasons: Reason[] = [];
  let status: Status = 'ok';
  const degrade = () => {
    if (status !== 'down') status = 'degraded';
  };
  const ev = (
    type: TerminalEvent['type'],
    severity: TerminalEvent['severity'],
    id: string,
    en: string,
    data?: Record<string, unknown>,
  ) =>
    events.push({
      type,
      severity,
      message: { id: `${ctx.name}: ${id}`, en: `${ctx.name}: ${en}` },
      ...(data ? { data } : {}),
    });

  if (res.latest_punch && (!mem.lastPunch || res.latest_punch.time_ms >= mem.lastPunch.ts))
    mem.lastPunch = {
      ts: res.latest_punch.time_ms,
      user_id: res.latest_punch.user_id,
      punch: res.latest_punch.punch,
    };

  switch (res.state) {
    case 'unreachable':
      status = 'down';
      reasons.push(
        r('terminal_unreachable', 'Mesin absensi tidak terjangkau', 'Attendance terminal unreachable'),
      );
      break;
    case 'hung': {
      status = 'down';
      const fill = res.fill ?? undefined;
      reasons.push(
        r(
          'terminal_hung',
          `Mesin absensi hang: tersambung lalu tidak menjawab${res.error?.message ? ` (${res.error.message})` : ''}`,
          `Attendance terminal hung: connects, then stops answering${res.error?.message ? ` (${res.error.message})` : ''}`,
        ),
      );
      if (!mem.hung)
        ev(
          'terminal_hung',
          'critical',
          'mesin absensi hang (memori penuh?)',
          'terminal hung (memory full?)',
          fill ? { fill_pct: fill.pct } : undefined,
        );
      break;
    }
    case 'busy':
      degrade();
      reasons.push(
        r(
          'terminal_busy',
          'Mesin sedang dipakai sesi lain (aplikasi absensi?): dicoba lagi nanti',
          'Terminal busy with another session (attendance software?): will retry',
        ),
      );
      break;
    case 'auth':
      degrade();
      reasons.push(r('terminal_auth', 'Comm key mesin absensi ditolak', 'The terminal refused the comm key'));
      break;
    default:
      break;
  }
  mem.hung = res.state === 'hung';

  const offset = res.clock_offset_s;
  if (offset !== undefined) {
    const abs = Math.abs(offset);
    if (!mem.drift && abs > cfg.clock_warn_s) {
      mem.drift = true;
      ev(
        'clock_drift',
        'warning',
        `jam mesin absensi selisih ${fmtOffset(offset)}`,
        `terminal clock off by ${fmtOffset(offset)}`,
        {
          offset_s: offset,
        },
      );
    } else if (mem.drift && abs < cfg.clock_warn_s / 2) mem.drift = false;
    if (mem.drift) {
      degrade();
      reasons.push(
        r(
          'clock_drift',
          `Jam mesin selisih ${fmtOffset(offset)} (batas ${cfg.clock_warn_s} detik): absen tercatat di jam yang salah`,
          `Terminal clock off by ${fmtOffset(offset)} (limit ${cfg.clock_warn_s} s): punches are stamped wrong`,
        ),
      );
    }
  }

  const fill = res.fill;
  if (fill) {
    // Hysteresis: a level is left only 5 points below its line.
    const level: 0 | 1 | 2 =
      fill.pct >= cfg.fill_critical_pct || (mem.fillLevel === 2 && fill.pct >= cfg.fill_critical_pct - 5)
        ? 2
        : fill.pct >= cfg.fill_warn_pct || (mem.fillLevel >= 1 && fill.pct >= cfg.fill_warn_pct - 5)
          ? 1
          : 0;
    if (level > mem.fillLevel)
      ev(
        'terminal_memory_high',
        level === 2 ? 'critical' : 'warning',
        `memori log ${fill.pct}% terisi (${fill.records}/${fill.capacity})`,
        `log memory ${fill.pct}% used (${fill.records}/${fill.capacity})`,
        { fill_pct: fill.pct },
      );
    mem.fillLevel = level;
    if (level > 0) {
      degrade();
      reasons.push(
        level === 2
          ? r(
              'log_full',
              `Memori log ${fill.pct}% penuh: mesin akan hang — unduh lalu kosongkan log`,
              `Log memory ${fill.pct}% full: the terminal will hang — download, then clear the log`,
            )
          : r(
              'log_filling',
              `Memori log ${fill.pct}% terisi (peringatan di ${cfg.fill_warn_pct}%)`,
              `Log memory ${fill.pct}% used (warning at ${cfg.fill_warn_pct}%)`,
            ),
      );
    }
  }

  // No punch since the start of a working day: the terminal may be broken, unplugged, or unused.
  const wh = cfg.working_hours;
  const t = localTime(ctx.now, ctx.timeZone);
  const start = hm(wh.start);
  const end = hm(wh.end);
  const working =
    wh.days.includes(t.weekday) && t.minutes >= start + cfg.no_punch_grace_min && t.minutes <= end;
  const punchToday =
    mem.lastPunch &&
    localTime(mem.lastPunch.ts, ctx.timeZone).day === t.day &&
    localTime(mem.lastPunch.ts, ctx.timeZone).minutes >= start - 120;
  if (working && res.state === 'up' && !punchToday) {
    degrade();
    reasons.push(
      r(
        'no_punch',
        `Belum ada absen sejak ${wh.start} (hari kerja)`,
        `No punch since ${wh.start} (working day)`,
      ),
    );
    if (mem.silentDay !== t.day) {
      mem.silentDay = t.day;
      ev(
        'attendance_silent',
        'warning',
        `belum ada absen sejak ${wh.start} pada hari kerja`,
        `no punch since ${wh.start} on a working day`,
      );
    }
  }

  const values: Reading['values'] = {};
  if (offset !== undefined) values.clock_offset_s = offset;
  if (fill) {
    values.log_records_count = fill.records;
    values.log_fill_pct = fill.pct;
    values.users_count = fill.users;
    values.fingerprints_count = fill.fingerprints;
  }
  if (res.state === 'up') values.punches_new_count = res.new_punches;
  const terminal: TerminalStatus = {
    state: res.state,
    last_punch: mem.lastPunch,
    time_zone: ctx.timeZone,
    ...(offset !== undefined ? { clock_offset_s: offset } : {}),
    ...(fill
      ? {
          fill: {
            records: fill.records,
            records_capacity: fill.capacity,
            records_pct: fill.pct,
            users: fill.users,
            users_capacity: fill.users_capacity,
            fingerprints: fill.fingerprints,
            fingerprints_capacity: fill.fingerprints_capacity,
          },
        }
      : {}),
    ...(res.state === 'up' ? { new_punches: res.new_punches } : {}),
  };
  return {
    status,
    reasons,
    terminal,
    readings: Object.keys(values).length > 0 ? [{ ts: ctx.now, values }] : [],
    events,
  };
}
