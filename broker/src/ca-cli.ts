// pantau-broker ca …: make a private CA and its certificates on a network without internet.

import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import { CA_DEFAULT_DAYS, CaError, CERT_DEFAULT_DAYS, initCa, issueCert, listCerts } from './ca.js';

export const CA_USAGE = `pantau-broker ca init  --dir D [--name "Agency CA"] [--days ${CA_DEFAULT_DAYS}]
pantau-broker ca issue --dir D --server --name central.lan [--name 10.0.0.5 ...] [--days ${CERT_DEFAULT_DAYS}] [--out F] [--force]
pantau-broker ca issue --dir D --site S [--username gw-S] [--days N] [--force]   site box client certificate
pantau-broker ca issue --dir D --client ACCOUNT [--days N] [--force]             e.g. the dashboard's account
pantau-broker ca list  --dir D [--warn-days 60]                                  certificates and their expiry
`;

export async function caCli(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' },
      name: { type: 'string', multiple: true },
      days: { type: 'string' },
      server: { type: 'boolean' },
      site: { type: 'string' },
      username: { type: 'string' },
      client: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      'warn-days': { type: 'string' },
    },
  });
  const dir = values.dir ?? fail(`--dir is required\n${CA_USAGE}`);
  const days = values.days === undefined ? undefined : Number(values.days);
  try {
    switch (action) {
      case 'init': {
        if ((values.name?.length ?? 0) > 1) fail('ca init takes one --name');
        const r = await initCa({ dir, name: values.name?.[0], days });
        out(`made a CA: ${r.crt} (copy to every site box and the dashboard)`);
        out(`           ${r.key} (keep here only, mode 0600; whoever has it can make certificates)`);
        return;
      }
      case 'issue': {
        const kinds = [values.server, values.site, values.client].filter((v) => v !== undefined);
        if (kinds.length !== 1) fail(`ca issue needs exactly one of --server, --site, --client\n${CA_USAGE}`);
        if (values.site !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(values.site))
          fail(`--site "${values.site}" must be a lowercase id (a-z, 0-9, -)`);
        const kind = values.server
          ? { server: values.name ?? [] }
          : { client: values.client ?? values.username ?? `gw-${values.site}` };
        const r = await issueCert({ dir, kind, days, out: values.out, force: values.force });
        out(`issued ${r.subject.replace(/\n/g, ', ')}, valid until ${r.validTo}`);
        out(`  certificate: ${r.crt}`);
        out(`  private key: ${r.key} (mode 0600; copy it only to the box it is for)`);
        if ('client' in kind)
          out(
            `  the broker accepts it as account "${kind.client}" when mqtt.tls.client_certs is optional or required`,
          );
        return;
      }
      case 'list': {
        const warn = Number(values['warn-days'] ?? 60);
        let expiring = 0;
        for (const c of listCerts(dir)) {
          const left =
            c.daysLeft < 0
              ? 'EXPIRED'
              : c.daysLeft < warn
                ? `expires in ${c.daysLeft} days`
                : `${c.daysLeft} days left`;
          if (c.daysLeft < warn) expiring++;
          const names = c.names.length ? `  names=${c.names.join(',')}` : '';
          const foreign = c.kind !== 'ca' && !c.fromThisCa ? '  (NOT signed by this CA)' : '';
          out(
            `${c.kind.padEnd(6)}  ${c.cn}${names}  until ${c.validTo.toISOString().slice(0, 10)}  ${left}${foreign}  ${c.file}`,
          );
        }
        if (expiring > 0) process.exitCode = 3;
        return;
      }
      default:
        fail(CA_USAGE);
    }
  } catch (e) {
    if (e instanceof CaError) fail(`pantau-broker ca ${action}: ${e.message}`);
    throw e;
  }
}
