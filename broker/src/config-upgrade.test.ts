// Upgrading a central from before the state file had its own default name keeps its state.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralDb } from './backbone/central-db.js';
import { loadBrokerConfig } from './config.js';

describe('central.yaml from an earlier version', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pantau-upgrade-'));
    writeFileSync(join(dir, 'backbone.yaml'), 'root: scc\nsites:\n  - { id: scc, name: SCC }\n');
    writeFileSync(
      join(dir, 'central.yaml'),
      'credentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nbackbone: { file: backbone.yaml }\n',
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a new central keeps its state in central-state.db, apart from the readings', () => {
    expect(loadBrokerConfig(join(dir, 'central.yaml')).backbone!.state_path).toBe(
      join(dir, 'central-state.db'),
    );
  });

  it('an upgraded one whose state shared the store file (the old default) keeps using it', () => {
    const old = new CentralDb(join(dir, 'central.db'));
    old.putBaseline('l', { recorded_at: 1, recorded_by: 'x' });
    old.close();
    const cfg = loadBrokerConfig(join(dir, 'central.yaml'));
    expect(cfg.backbone!.state_path).toBe(join(dir, 'central.db'));
    const again = new CentralDb(cfg.backbone!.state_path!);
    expect(again.baseline('l')).toMatchObject({ recorded_by: 'x' });
    again.close();
  });
});
