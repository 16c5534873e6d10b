import type { TerminalResult } from '@pantau/collectors/zkteco';
import { describe, expect, it } from 'vitest';
import { judgeTerminal, localTime, newTerminalJudgeMemory, type TerminalSettings } from './terminal.js';

const CFG: TerminalSettings = {
  clock_warn_s: 60,
  fill_warn_pct: 80,
  fill_critical_pct: 95,
  no_punch_grace_min: 60,
  working_hours: { days: [1, 2, 3, 4, 5], start: '07:30', end: '16:00' },
};
const TZ = 'Asia/Makassar';
// Monday 1 December 2026 in WITA (UTC+8).
const wita = (h: number, m = 0) => Date.UTC(2026, 10, 30, h - 8 + 24, m);
const fill = (records: number, capacity = 100_000) => ({
  records,
  capacity,
  pct: Math.round((records / capacity) * 1000) / 10,
  users: 40,
  users_capacity: 3000,
  fingerprints: 80,
  fingerprints_capacity: 3000,
});
const up = (over: Partial<TerminalResult> = {}): TerminalResult => ({
  state: 'up',
  clock_offset_s: 2,
  fill: fill(1000),
  new_punches: 0,
  log_read: true,
  chunks: 1,
  elapsed_ms: 50,
  ...over,
});
const judge = (res: TerminalResult, now: number, mem = newTerminalJudgeMemory()) =>
  judgeTerminal(res, mem, CFG, { name: 'Absen BKD', timeZone: TZ, now });

describe('terminal judgement', () => {
  it('reads the site zone: 09:00 WITA on a Monday', () => {
    expect(localTime(wita(9), TZ)).toEqual({ day: '2026-12-01', weekday: 2, minutes: 540 });
    expect(localTime(wita(9), 'Asia/Jakarta').minutes).toBe(480);
  });

  it('punches this morning: ok, with its figures', () => {
    const j = judge(
      up({ latest_punch: { user_id: '1001', time_ms: wita(7, 41), punch: 0 }, new_punches: 3 }),
      wita(9),
    );
    expect(j.status).toBe('ok');
    expect(j.readings[0]!.values).toEqual({
      clock_offset_s: 2,
      log_records_count: 1000,
      log_fill_pct: 1,
      users_count: 40,
      fingerprints_count: 80,
      punches_new_count: 3,
    });
  });

  it('no punch an hour after the start of a working day: said once a day, not on weekends or before the grace', () => {
    const mem = newTerminalJudgeMemory();
    const yesterday = { user_id: '1001', time_ms: wita(7, 40) - 86_400_000, punch: 0 };
    expect(judge(up({ latest_punch: yesterday }), wita(8), mem).reasons).toEqual([]);
    const late = judge(up(), wita(8, 45), mem);
    expect(late.reasons.map((r) => r.id)).toEqual(['Belum ada absen sejak 07:30 (hari kerja)']);
    expect(late.events.map((e) => e.type)).toEqual(['attendance_silent']);
    expect(judge(up(), wita(10), mem).events).toEqual([]);
    // Saturday 5 December.
    expect(judge(up(), wita(10) + 4 * 86_400_000, newTerminalJudgeMemory()).reasons).toEqual([]);
  });

  it('log memory: warning at 80 %, critical at 95 %, each raised once, left 5 points below', () => {
    const mem = newTerminalJudgeMemory();
    const at = (n: number) =>
      judge(
        up({ fill: fill(n, 1000), latest_punch: { user_id: '1', time_ms: wita(8), punch: 0 } }),
        wita(9),
        mem,
      );
    expect(at(790).reasons).toEqual([]);
    const warn = at(810);
    expect(warn.events.map((e) => `${e.type} ${e.severity}`)).toEqual(['terminal_memory_high warning']);
    expect(at(960).events.map((e) => `${e.type} ${e.severity}`)).toEqual(['terminal_memory_high critical']);
    expect(at(930).reasons[0]!.code).toBe('log_full');
    expect(at(890).reasons[0]!.code).toBe('log_filling');
    expect(at(740).reasons).toEqual([]);
  });

  it('clock drift beyond 60 s, cleared below 30 s', () => {
    const mem = newTerminalJudgeMemory();
    const punch = { user_id: '1', time_ms: wita(8), punch: 0 };
    const off = judge(up({ clock_offset_s: 300, latest_punch: punch }), wita(9), mem);
    expect(off.events[0]).toMatchObject({ type: 'clock_drift', data: { offset_s: 300 } });
    expect(off.reasons[0]!.id).toBe(
      'Jam mesin selisih +5 menit/min (batas 60 detik): absen tercatat di jam yang salah',
    );
    expect(
      judge(up({ clock_offset_s: 45, latest_punch: punch }), wita(9), mem).reasons.map((r) => r.code),
    ).toEqual(['clock_drift']);
    expect(judge(up({ clock_offset_s: 10, latest_punch: punch }), wita(9), mem).status).toBe('ok');
  });

  it('hung, busy, unreachable', () => {
    const mem = newTerminalJudgeMemory();
    const hung = judge(
      {
        ...up(),
        state: 'hung',
        error: { kind: 'timeout', reason: 'timeout', message: 'memory full? log at 1000/1000' },
      },
      wita(9),
      mem,
    );
    expect(hung.status).toBe('down');
    expect(hung.events.map((e) => e.type)).toEqual(['terminal_hung']);
    expect(judge({ ...up(), state: 'hung' }, wita(9), mem).events).toEqual([]);
    expect(judge({ ...up(), state: 'busy' }, wita(9)).reasons[0]!.code).toBe('terminal_busy');
    const gone = judge(
      { state: 'unreachable', new_punches: 0, log_read: false, chunks: 0, elapsed_ms: 5 },
      wita(9),
    );
    expect(gone).toMatchObject({ status: 'down', readings: [] });
  });
});
