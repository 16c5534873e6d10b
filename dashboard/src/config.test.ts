import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { loadDashboardConfig } from './config.js';

describe('dashboard.yaml TLS fields', () => {
  const dir = tempDir('dash-cfg');
  afterAll(() => dir.remove());
  const issues = (yaml: string): string[] => {
    const f = join(dir.path, 'dashboard.yaml');
    writeFileSync(f, `${yaml}store: { kind: sqlite, path: c.db }\nusers_file: users.yaml\n`);
    try {
      loadDashboardConfig(f);
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.issues.map((i) => `${i.line}:${i.field}: ${i.message}`.replace(dir.path, 'D'));
    }
  };

  it('names a missing certificate, a TLS block on a plain URL, a half client certificate', () => {
    expect(
      issues(
        'http: { tls: { cert_file: s.crt, key_file: s.key } }\nmqtt: { url: "mqtt://c:1883", username: d, password: x }\n',
      ),
    ).toEqual(['0:http.tls.cert_file: cannot read D/s.crt: ENOENT']);
    expect(
      issues('mqtt: { url: "mqtt://c:1883", username: d, password: x, tls: { ca_file: ca.crt } }\n'),
    ).toEqual(['1:mqtt.tls: is set, but a URL is not mqtts:// or wss://']);
    expect(issues('mqtt: { url: "mqtts://c:8883", username: d, tls: { cert_file: d.crt } }\n')).toEqual([
      '1:mqtt.tls: cert_file and key_file go together',
    ]);
    expect(issues('mqtt: { url: "mqtts://c:8883", username: d }\n')).toEqual([
      '1:mqtt: needs password_file (or password, or tls.cert_file)',
    ]);
  });
});

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
      '1:mqtt: needs either url (one broker) or urls (a cluster)',
    ]);
    expect(issues('{ url: "mqtt://a:1", urls: ["mqtt://b:1"], username: d, password: p }')).toEqual([
      '1:mqtt: needs either url (one broker) or urls (a cluster)',
    ]);
    expect(issues('{ urls: ["http://b:1"], username: d, password: p }')).toEqual([
      '1:mqtt.urls[0]: must be a URL like mqtts://10.0.0.1:8883',
    ]);
  });
});
