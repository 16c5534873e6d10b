import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { loadDashboardConfig } from './config.js';
import { sitesOf } from './enroll.js';
import type { Session } from './sessions.js';

describe("dashboard.yaml's enroll section", () => {
  const dir = tempDir('dash-enroll');
  afterAll(() => dir.remove());
  const load = (yaml: string) => {
    const f = join(dir.path, 'dashboard.yaml');
    writeFileSync(
      f,
      `mqtt: { url: "mqtt://c:1883", username: d, password: x }\nstore: { kind: sqlite, path: data/c.db }\nusers_file: users.yaml\n${yaml}`,
    );
    return loadDashboardConfig(f);
  };
  const issues = (yaml: string): string[] => {
    try {
      load(yaml);
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.issues.map((i) => `${i.line}:${i.field}: ${i.message}`.replace(dir.path, 'D'));
    }
  };

  it('resolves paths beside dashboard.yaml and keeps tokens in the central state database by default', () => {
    const c = load('enroll: { credentials_file: credentials.yaml, mqtt_urls: ["mqtts://central:8883"] }\n');
    expect(c.enroll).toEqual({
      credentialsFile: join(dir.path, 'credentials.yaml'),
      mqttUrls: ['mqtts://central:8883'],
      statePath: join(dir.path, 'data', 'central-state.db'),
    });
    const b = load(
      'backbone: { file: bb.yaml, state_path: state.db }\nenroll: { credentials_file: c.yaml, mqtt_urls: ["mqtt://c:1883"] }\n',
    );
    expect(b.enroll?.statePath).toBe(join(dir.path, 'state.db'));
  });

  it('names the field and line of what is wrong', () => {
    expect(issues('enroll: { credentials_file: c.yaml, mqtt_urls: ["http://c"] }\n')[0]).toMatch(
      /^4:enroll\.mqtt_urls\[0\]: /,
    );
    expect(issues('enroll:\n  mqtt_urls: ["mqtt://c:1883"]\n')[0]).toMatch(
      /^5:enroll.credentials_file: is required/,
    );
    expect(
      issues('enroll: { credentials_file: c.yaml, mqtt_urls: ["mqtts://c:8883"], ca_file: nope.crt }\n'),
    ).toEqual(['0:enroll.ca_file: cannot read D/nope.crt: ENOENT']);
  });
});

describe('who may enroll which site', () => {
  const session = (role: Session['role'], extra: object = {}): Session => ({
    id: 'x',
    username: 'u',
    role,
    created: 0,
    lastSeen: 0,
    sites: [],
    csrf: 'x',
    ...extra,
  });
  it('engineers and admins every site; installers only the sites given them; other roles none', () => {
    expect(sitesOf(session('engineer'))).toBe('all');
    expect(sitesOf(session('admin'))).toBe('all');
    expect(sitesOf(session('installer'))).toEqual([]);
    expect(sitesOf(session('installer', { sites: ['rsud', 'pasar'] }))).toEqual(['rsud', 'pasar']);
    expect(sitesOf(session('operator', { sites: ['rsud'] }))).toEqual([]);
  });
});
