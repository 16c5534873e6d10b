// pantau-broker audit …: read the audit log (refused logins, ACL denials, limit hits).

import { watchFile } from 'node:fs';
import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import { type AuditLine, readAudit } from './audit.js';
import { loadBrokerConfig } from './config.js';

export const AUDIT_USAGE = `pantau-broker audit tail   --config central.yaml [-n 20] [--follow] [--json]
pantau-broker audit search --config central.yaml [--event E] [--username U] [--remote ADDR] [--topic T]
                           [--since 2026-12-01T08:00] [--until …] [--json]   (or --file audit.log instead of --config)
`;

function format(l: AuditLine, json: boolean): string {
  if (json) return JSON.stringify(l);
  const who = [
    l.username && `user=${l.username}`,
    l.client && `client=${l.client}`,
    l.remote && `from=${l.remote}`,
  ]
    .filter(Boolean)
    .join(' ');
  const topic = l.topic ? ` topic=${l.topic}` : '';
  const count = l.count ? ` (+${l.count} more)` : '';
  // One event a line, whatever a TLS library put into the reason.
  const reason = l.reason.replace(/\s+/g, ' ');
  return `${l.time}  ${l.event.padEnd(16)} ${l.action.padEnd(9)} ${who}${topic}  ${reason}${count}`;
}

function time(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) fail(`${flag} "${s}" is not a time (e.g. 2026-12-01T08:00 or 2026-12-01)`);
  return t;
}

export async function auditCli(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      file: { type: 'string' },
      n: { type: 'string', short: 'n' },
      follow: { type: 'boolean', short: 'f' },
      json: { type: 'boolean' },
      event: { type: 'string' },
      username: { type: 'string' },
      remote: { type: 'string' },
      topic: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    },
  });
  const file =
    values.file ??
    (values.config
      ? loadBrokerConfig(values.config).audit!.file!
      : fail(`--config or --file is required\n${AUDIT_USAGE}`));
  const json = values.json ?? false;
  switch (action) {
    case 'tail': {
      const n = Number(values.n ?? 20);
      if (!Number.isInteger(n) || n < 0) fail(`-n must be a whole number, not "${values.n}"`);
      let lines = readAudit(file);
      for (const l of lines.slice(-n || lines.length)) out(format(l, json));
      if (!values.follow) return;
      let seen = lines.length;
      // Poll: the file is rotated under us, which inotify-based watching would lose.
      watchFile(file, { interval: 500 }, () => {
        lines = readAudit(file);
        if (lines.length < seen) seen = 0; // rotated past what we had read
        for (const l of lines.slice(seen)) out(format(l, json));
        seen = lines.length;
      });
      await new Promise(() => undefined);
      return;
    }
    case 'search': {
      const since = time(values.since, '--since');
      const until = time(values.until, '--until');
      let found = 0;
      for (const l of readAudit(file)) {
        if (values.event && l.event !== values.event) continue;
        if (values.username && l.username !== values.username) continue;
        if (values.remote && l.remote !== values.remote && !l.remote?.endsWith(`:${values.remote}`)) continue;
        if (values.topic && !l.topic?.includes(values.topic)) continue;
        const t = Date.parse(l.time);
        if (since !== undefined && t < since) continue;
        if (until !== undefined && t > until) continue;
        found++;
        out(format(l, json));
      }
      if (found === 0) process.exitCode = 1;
      return;
    }
    default:
      fail(AUDIT_USAGE);
  }
}
