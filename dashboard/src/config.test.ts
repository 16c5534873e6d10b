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
    ).toEqual(['1:mqtt.tls: is set, but the URL is not mqtts:// or wss://']);
    expect(issues('mqtt: { url: "mqtts://c:8883", username: d, tls: { cert_file: d.crt } }\n')).toEqual([
      '1:mqtt.tls: cert_file and key_file go together',
    ]);
    expect(issues('mqtt: { url: "mqtts://c:8883", username: d }\n')).toEqual([
      '1:mqtt: needs password_file (or password, or tls.cert_file)',
    ]);
  });
});
