import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { loadDashboardConfig } from './config.js';

describe('dashboard.yaml mqtt', () => {
  const dir = tempDir('dash-cfg');
  afterAll(() => dir.remove());
  const load = (mqtt: string) => {
    const f = join(dir.path, 'dashboard.yaml');
    writeFileSync(f, `mqtt: ${mqtt}\nstore: { kind: sqlite, path: c.db }\nusers_file: users.yaml\n`);
    return loadDashboardConfig(f);
  };

  it('takes one broker (url) or the brokers of a cluster (urls)', () => {
    expect(load('{ url: "mqtt://10.0.0.1:1883", username: d, password: p }').mqtt.url).toBe(
      'mqtt://10.0.0.1:1883',
    );
    expect(
      load('{ urls: ["mqtt://10.0.0.1:1884", "mqtt://10.0.0.1:1885"], username: d, password: p }').mqtt.urls,
    ).toEqual(['mqtt://10.0.0.1:1884', 'mqtt://10.0.0.1:1885']);
  });

  it('needs exactly one of them, and well-formed URLs', () => {
    const issues = (mqtt: string) => {
      try {
        load(mqtt);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).issues.map((i) => `${i.line}:${i.field}: ${i.message}`);
      }
      return expect.unreachable('accepted');
    };
    expect(issues('{ username: d, password: p }')).toEqual([
      '1:mqtt: needs url (one broker) or urls (a cluster), not both',
    ]);
    expect(issues('{ url: "mqtt://a:1", urls: ["mqtt://b:1"], username: d, password: p }')).toEqual([
      '1:mqtt: needs url (one broker) or urls (a cluster), not both',
    ]);
    expect(issues('{ urls: ["http://b:1"], username: d, password: p }')).toEqual([
      '1:mqtt.urls[0]: must be a URL like mqtts://10.0.0.1:8883',
    ]);
  });
});
