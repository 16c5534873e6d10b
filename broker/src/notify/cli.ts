// pantau-broker notify …: send a test message through every channel (to check a relay, a gateway or
// a token before the first real incident), and show what waits in the delivery queue.

import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import { loadBrokerConfig } from '../config.js';
import { NotifyStore } from './queue.js';
import { recipients } from './rules.js';
import { send } from './senders.js';

export const NOTIFY_USAGE = `pantau-broker notify test  --config central.yaml [--channel NAME]   send a test message on each channel
pantau-broker notify queue --config central.yaml [--all]            messages waiting or given up
`;

export async function notifyCli(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      channel: { type: 'string' },
      all: { type: 'boolean', default: false },
    },
  });
  const file = values.config ?? fail('--config is required');
  const cfg = loadBrokerConfig(file);
  if (!cfg.notify) fail(`${file}: notify: not configured (add notify.file)`);
  const n = cfg.notify!.config;
  switch (action) {
    case 'test': {
      const names = values.channel ? [values.channel] : Object.keys(n.channels);
      let failed = 0;
      for (const name of names) {
        const ch = n.channels[name] ?? fail(`no channel "${name}" in ${cfg.notify!.file}`);
        // Everyone this channel could ever reach: its own list and every role's.
        const to = [...new Set([...recipients(n, name, []), ...recipients(n, name, Object.keys(n.roles))])];
        if (to.length === 0) {
          out(`-     ${name}: no recipients (add to/chat_ids or a role with addresses)`);
          failed++;
          continue;
        }
        for (const r of to) {
          const text = {
            id: `Uji pemberitahuan Pantau: saluran "${name}" berfungsi. Tidak perlu ditanggapi.`,
            en: `Pantau notification test: channel "${name}" works. No action needed.`,
          };
          try {
            await send(ch, r, {
              id: `test:${Date.now()}:${name}:${r}`,
              subject: '[Pantau] Uji pemberitahuan',
              text: ch.language === 'id' ? text.id : `${text.id}\n\n— English —\n${text.en}`,
              data: { transition: 'test', texts: text },
            });
            out(`OK    ${name}${r ? ` → ${r}` : ''}`);
          } catch (e) {
            out(`GAGAL ${name}${r ? ` → ${r}` : ''}: ${(e as Error).message}`);
            failed++;
          }
        }
      }
      if (failed > 0) process.exitCode = 1;
      return;
    }
    case 'queue': {
      const store = new NotifyStore(cfg.backbone!.state_path!);
      try {
        const rows = store.rows().filter((r) => values.all || r.state !== 'sent');
        if (rows.length === 0) out('nothing waiting / tidak ada pesan yang menunggu');
        for (const r of rows)
          out(
            `${r.state.padEnd(7)} ${new Date(r.created_at).toISOString()}  ${r.channel}${r.recipient ? ` → ${r.recipient}` : ''}  attempts=${r.attempts}${r.state === 'pending' ? `  next=${new Date(r.next_at).toISOString()}` : ''}${r.last_error ? `  error: ${r.last_error}` : ''}\n        ${r.subject}`,
          );
      } finally {
        store.close();
      }
      return;
    }
    default:
      fail(NOTIFY_USAGE);
  }
}
