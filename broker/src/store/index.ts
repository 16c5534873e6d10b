import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export { labelsKey, SqliteStore } from './sqlite.js';
export * from './types.js';

export interface StoreConfig {
  kind: 'sqlite';
  path: string;
}

/** Opens the configured store; `readonly` is for readers such as the dashboard. */
export function openStore(cfg: StoreConfig, opts: { readonly?: boolean } = {}): Store {
  switch (cfg.kind) {
    case 'sqlite':
      return new SqliteStore({ path: cfg.path, readonly: opts.readonly ?? false });
  }
}
