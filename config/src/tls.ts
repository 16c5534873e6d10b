// PEM files named in a config (certificates, keys, CAs): read at load time so a wrong path or a
// key where a certificate belongs is a config error naming file and field.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, pathFrom } from './index.js';

export type PemKind = 'certificate' | 'private key';

/** Reads a PEM file named by a config field; its path is resolved against the config file. */
export function readPemFile(
  configFile: string,
  field: string,
  p: string,
  kind: PemKind,
): { path: string; pem: string } {
  const path = pathFrom(configFile, p);
  const problem = (message: string) =>
    new ConfigError(configFile, [{ file: configFile, line: 0, column: 0, field, message }]);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw problem(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (kind === 'private key') {
    if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(pem))
      throw problem(`${path} holds no PEM private key`);
    return { path, pem };
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw problem(`${path} holds no PEM certificate`);
  try {
    new X509Certificate(pem);
  } catch (e) {
    throw problem(`${path} is not a readable certificate: ${(e as Error).message}`);
  }
  // An expired certificate is not a config error: a site box must keep polling and buffering
  // while someone brings it a new one. The daemons say so in their logs (certificateExpiry).
  return { path, pem };
}

/** Days until a PEM certificate expires (negative: expired), or null when it cannot be read. */
export function certificateDaysLeft(pem: string | Buffer): number | null {
  try {
    return Math.floor((Date.parse(new X509Certificate(pem).validTo) - Date.now()) / 86_400_000);
  } catch {
    return null;
  }
}
