// PEM files named in a config (certificates, keys, CAs): read at load time so a wrong path, a key
// where a certificate belongs or an expired certificate is a config error naming file and field.

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
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw problem(`${path} is not a readable certificate: ${(e as Error).message}`);
  }
  if (Date.parse(cert.validTo) < Date.now()) throw problem(`${path} expired on ${cert.validTo}`);
  return { path, pem };
}
