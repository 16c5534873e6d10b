import { describe, expect, it } from 'vitest';
import { createObserverFeed, type IngestObserver } from './ingest.js';

describe('the judgement feed of a clustered broker', () => {
  it('tells each telemetry batch once, passes states on, ignores what is malformed', () => {
    const told: string[] = [];
    const observer: IngestObserver = {
      onTelemetry: (site, p) => told.push(`telemetry ${site} ${p.seq}`),
      onDeviceState: (site, p) => told.push(`device ${site} ${p.device}`),
      onGatewayState: (site, p) => told.push(`gateway ${site} ${p.state}`),
      onGatewayHealth: (site) => told.push(`health ${site}`),
      onEvent: (site, e) => told.push(`event ${site} ${e.type}`),
    };
    const feed = createObserverFeed(observer, 3);
    const batch = (seq: number) =>
      Buffer.from(
        JSON.stringify({
          v: 1,
          seq,
          device: 'r1',
          backfill: false,
          readings: [{ ts: 1.8e12, values: { snr_db: 30 } }],
        }),
      );
    feed('pantau/v1/rsud/r1/telemetry', batch(1));
    feed('pantau/v1/rsud/r1/telemetry', batch(1)); // re-sent after a fail-over
    feed('pantau/v1/psc/r1/telemetry', batch(1)); // another site's own numbers
    feed('pantau/v1/rsud/gateway/state', Buffer.from('{"v":1,"state":"online","ts":1800000000000}'));
    feed('pantau/v1/rsud/r1/telemetry', Buffer.from('{"v":1,"seq":"x"}'));
    feed('pantau/v1/rsud/request/probe', Buffer.from('{}'));
    for (const seq of [2, 3, 4]) feed('pantau/v1/rsud/r1/telemetry', batch(seq));
    // Only the last 3 numbers are remembered: 1 has been forgotten, 4 not.
    feed('pantau/v1/rsud/r1/telemetry', batch(4));
    feed('pantau/v1/rsud/r1/telemetry', batch(1));
    expect(told).toEqual([
      'telemetry rsud 1',
      'telemetry psc 1',
      'gateway rsud online',
      'telemetry rsud 2',
      'telemetry rsud 3',
      'telemetry rsud 4',
      'telemetry rsud 1',
    ]);
  });
});
