// The broker's one call into notifications: a Notifier when central.yaml names a notify file, else none.

import type { Logger } from 'pino';
import type { CentralDb } from '../backbone/central-db.js';
import { loadBackbone } from '../backbone/description.js';
import type { BrokerConfig } from '../config.js';
import { Notifier } from './notifier.js';

export function startNotifier(cfg: BrokerConfig, central: CentralDb, log: Logger): Notifier | null {
  if (!cfg.notify || !cfg.backbone) return null;
  const n = new Notifier({
    cfg: cfg.notify.config,
    backbone: loadBackbone(cfg.backbone.file),
    central,
    statePath: cfg.backbone.state_path!,
    log: log.child({ part: 'notify' }),
  });
  log.info(
    {
      file: cfg.notify.file,
      channels: Object.keys(cfg.notify.config.channels),
      rules: cfg.notify.config.rules.length,
    },
    'notifications on',
  );
  return n;
}
