import { describe, expect, it } from 'vitest';
import { isStale, METRICS, parseTopic, topicMatches, topics } from './index.js';

describe('topics', () => {
  it('builds and parses every v1 topic', () => {
    expect(parseTopic(topics.gatewayState('rsud'))).toEqual({ kind: 'gateway-state', site: 'rsud' });
    expect(parseTopic(topics.gatewayHealth('rsud'))).toEqual({ kind: 'gateway-health', site: 'rsud' });
    expect(parseTopic(topics.deviceState('rsud', 'ptp-scc'))).toEqual({
      kind: 'device-state',
      site: 'rsud',
      device: 'ptp-scc',
    });
    expect(parseTopic(topics.deviceTelemetry('rsud', 'cam-1'))).toEqual({
      kind: 'device-telemetry',
      site: 'rsud',
      device: 'cam-1',
    });
    expect(parseTopic(topics.events('rsud'))).toEqual({ kind: 'events', site: 'rsud' });
    expect(parseTopic(topics.request('rsud', 'probe'))).toEqual({
      kind: 'request',
      site: 'rsud',
      op: 'probe',
    });
    expect(parseTopic(topics.response('rsud', 'probe'))).toEqual({
      kind: 'response',
      site: 'rsud',
      op: 'probe',
    });
  });

  it('refuses topics outside the contract', () => {
    for (const t of [
      'pantau/v2/rsud/events',
      'pantau/v1/RSUD/events',
      'pantau/v1/rsud/gateway/x',
      'pantau/v1/rsud/a/b/c',
      'x',
    ]) {
      expect(parseTopic(t)).toBeNull();
    }
  });

  it('answers a topic heard again with the same frozen answer, and stays right past what it keeps', () => {
    const first = parseTopic('pantau/v1/rsud/ptp-scc/telemetry');
    expect(parseTopic('pantau/v1/rsud/ptp-scc/telemetry')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(parseTopic('pantau/v1/rsud/Bad/telemetry')).toBeNull();
    expect(parseTopic('pantau/v1/rsud/Bad/telemetry')).toBeNull();
    // More distinct topics than are kept: every answer is still the parse of its own topic.
    for (let i = 0; i < 20_000; i++) {
      expect(parseTopic(`pantau/v1/site-${i}/radio-${i}/state`)).toEqual({
        kind: 'device-state',
        site: `site-${i}`,
        device: `radio-${i}`,
      });
    }
    expect(parseTopic('pantau/v1/rsud/ptp-scc/telemetry')).toEqual(first);
  });

  it('rejects bad and reserved ids when building', () => {
    expect(() => topics.deviceState('rsud', 'gateway')).toThrow(/reserved/);
    expect(() => topics.gatewayState('Bad Site')).toThrow(/slug/);
  });

  it('matches MQTT wildcards', () => {
    expect(topicMatches('pantau/v1/rsud/#', 'pantau/v1/rsud/x/state')).toBe(true);
    expect(topicMatches('pantau/v1/rsud/#', 'pantau/v1/rsud')).toBe(true);
    expect(topicMatches('pantau/v1/rsud/#', 'pantau/v1/rsudx/x/state')).toBe(false);
    expect(topicMatches('pantau/v1/+/gateway/state', 'pantau/v1/a/gateway/state')).toBe(true);
    expect(topicMatches('pantau/v1/+/gateway/state', 'pantau/v1/a/b/gateway/state')).toBe(false);
  });
});

describe('metrics and staleness', () => {
  it('every metric name ends in its unit or is unitless', () => {
    expect(METRICS.rx_power_dbm.unit).toBe('dBm');
    expect(METRICS.rate_rx_bps.unit).toBe('bit/s');
  });
  it('a value older than three intervals is stale', () => {
    expect(isStale(1000, 10, 1000 + 30_000)).toBe(false);
    expect(isStale(1000, 10, 1000 + 30_001)).toBe(true);
    expect(isStale(null, 10, 0)).toBe(true);
  });
});
