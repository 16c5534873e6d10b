import type { StoreConfig } from './config.js';
import { InfluxStore } from './influx.js';
import { SqliteStore } from './sqlite.js';
import { ThreadedSqliteStore } from './sqlite-thread.js';
import type { Store } from './types.js';

export * from './config.js';
export {
  InfluxStore,
  M as INFLUX_MEASUREMENTS,
  ROLLUP_CQ,
  RP as INFLUX_RETENTION_POLICIES,
  rollupSelect,
} from './influx.js';
export type { WriterStats } from './influx-writer.js';
export { labelsKey, SqliteStore } from './sqlite.js';
export { ThreadedSqliteStore } from './sqlite-thread.js';
export * from './types.js';

export interface OpenStoreOptions {
  /** For readers such as the dashboard: nothing is created or written. */
  readonly?: boolean;
  /** InfluxDB write failures (the writer keeps retrying); never thrown. */
  onWriteError?: (err: Error, retrying: boolean) => void;
  /**
   * sqlite: writes on this thread (false) instead of a writer thread (the default for a writer).
   * Tools that write a few rows and exit need no thread.
   */
  writerThread?: boolean;
}

/** Opens the configured store. */
export function openStore(cfg: StoreConfig, opts: OpenStoreOptions = {}): Store {
  switch (cfg.kind) {
    case 'sqlite':
      if (opts.readonly) return new SqliteStore({ path: cfg.path, readonly: true });
      return opts.writerThread === false
        ? new SqliteStore({ path: cfg.path })
        : new ThreadedSqliteStore(cfg.path);
    case 'influx':
      return new InfluxStore({
        cfg,
        readonly: opts.readonly ?? false,
        ...(opts.onWriteError ? { onWriteError: opts.onWriteError } : {}),
      });
  }
}
