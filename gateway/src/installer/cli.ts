// `pantau-gateway installer-pin`: sets the installer page's PIN (hashed into installer.pin_file).

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { fail, isHostAddress, out, pathFrom } from '@pantau/config';
import type { CommissioningPayload } from '@pantau/contract';
import { loadGatewayConfig } from '../config.js';
import { CommissionError, commissionSite, type FarEnd, farAddress, saveReport } from './commission.js';
import { pinProblem, writePin } from './pin.js';

/** One line from stdin; typed without echo when it is a terminal. */
function readLine(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const tty = stdin.isTTY;
    if (tty) {
      process.stderr.write(prompt);
      stdin.setRawMode(true);
    }
    let buf = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\n' || ch === '\r' || ch === '\u0004') {
          stdin.off('data', onData);
          if (tty) {
            stdin.setRawMode(false);
            process.stderr.write('\n');
          }
          stdin.pause();
          return resolve(buf);
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
    stdin.on('end', () => resolve(buf));
    stdin.resume();
  });
}

export async function installerPinCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } } });
  const file = values.config ?? fail('--config site.yaml is required (its installer.pin_file is written)');
  const cfg = loadGatewayConfig(file);
  if (!cfg.installer) return fail(`${file}: no installer section (installer: { port, pin_file })`);
  const pinFile = pathFrom(cfg.file, cfg.installer.pin_file);
  const pin = (await readLine('New installer PIN / PIN baru (6-12 angka): ')).trim();
  const problem = pinProblem(pin);
  if (problem) return fail(problem);
  if (process.stdin.isTTY) {
    const again = (await readLine('Again / Ulangi: ')).trim();
    if (again !== pin) return fail('the two PINs differ / kedua PIN berbeda');
  }
  await writePin(pinFile, pin);
  out(`PIN set in ${pinFile} (scrypt hash) / PIN disimpan`);
}

/**
 * `pantau-gateway commission`: the day-one record without the page. The report is kept in state_dir
 * (or --out); the central receives it when the running daemon commissions (installer page).
 */
export async function commissionCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      note: { type: 'string' },
      'far-end': { type: 'string', multiple: true },
      'far-community': { type: 'string', default: 'public' },
      json: { type: 'boolean', default: false },
    },
  });
  const cfg = loadGatewayConfig(values.config ?? fail('--config site.yaml is required'));
  const farEnds: FarEnd[] = (values['far-end'] ?? []).map((x) => {
    const m = /^([a-z0-9-]+)=(.+)$/.exec(x);
    const at = m ? farAddress(m[2]!) : null;
    if (!m || !at || !isHostAddress(at.address))
      return fail(`--far-end must be RADIO-ID=ADDRESS[:PORT], not "${x}"`);
    return { of: m[1]!, ...at, community: values['far-community']! };
  });
  let report: CommissioningPayload;
  try {
    report = await commissionSite(cfg, {
      by: `cli@${hostname()}`,
      ...(values.note ? { note: values.note } : {}),
      ...(farEnds.length ? { farEnds } : {}),
    });
  } catch (e) {
    if (e instanceof CommissionError) return fail(e.message);
    throw e;
  }
  const files = saveReport(values.out ?? cfg.state_dir, report);
  if (values.json) return out(JSON.stringify(report, null, 2));
  for (const d of report.devices) {
    out(`${d.ok ? 'OK  ' : 'FAIL'} ${d.id} (${d.kind} ${d.address})`);
    for (const n of d.notes) out(`       ${n.ok ? '' : '! '}${n.id} / ${n.en}`);
  }
  out(`report / laporan: ${files.html}\n                   ${files.json}`);
  if (report.devices.some((d) => !d.ok)) process.exitCode = 1;
}
