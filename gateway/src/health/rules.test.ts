import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, evaluateRules } from './rules.js';

describe('health rules', () => {
  it('ok when every figure is inside its limits', () => {
    expect(evaluateRules(DEFAULT_RULES, { snr_db: 30, loss_pct: 0, ccq_pct: 95 }, new Set())).toEqual({
      status: 'ok',
      reasons: [],
    });
  });
  it('weak signal is degraded, with the reason in both languages', () => {
    const r = evaluateRules(DEFAULT_RULES, { snr_db: 12 }, new Set());
    expect(r.status).toBe('degraded');
    expect(r.reasons).toEqual([
      {
        code: 'snr_low',
        id: 'Sinyal lemah: SNR 12 dB (di bawah 15 dB)',
        en: 'Weak signal: SNR 12 dB (below 15 dB)',
      },
    ]);
  });
  it('hysteresis: a value hovering at the threshold does not flap', () => {
    const active = new Set<string>();
    const seq = [14, 15.5, 16.5, 17.5, 14.9].map(
      (snr) => evaluateRules(DEFAULT_RULES, { snr_db: snr }, active).status,
    );
    expect(seq).toEqual(['degraded', 'degraded', 'degraded', 'ok', 'degraded']);
  });
  it('total loss is said once', () => {
    expect(evaluateRules(DEFAULT_RULES, { loss_pct: 100 }, new Set()).reasons.map((r) => r.code)).toEqual([
      'loss_total',
    ]);
  });
});
