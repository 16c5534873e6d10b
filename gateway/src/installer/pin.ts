// The installer PIN: only its scrypt hash is kept (installer.pin_file, mode 0600), like every other
// secret Pantau stores; `pantau-gateway installer-pin` sets it.

import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hashSecret } from '@pantau/config';

/** 6–12 digits: typed on a phone keypad, long enough with the login slow-down to resist guessing. */
export const PIN_RE = /^[0-9]{6,12}$/;

export function pinProblem(pin: string): string | null {
  return PIN_RE.test(pin) ? null : 'the PIN must be 6 to 12 digits / PIN harus 6 sampai 12 angka';
}

/** The stored hash, or null when no PIN was set yet (the page then says how to set one). */
export function readPinHash(file: string): string | null {
  try {
    const h = readFileSync(file, 'utf8').trim();
    return h.startsWith('scrypt$') ? h : null;
  } catch {
    return null;
  }
}

export async function writePin(file: string, pin: string): Promise<void> {
  const problem = pinProblem(pin);
  if (problem) throw new Error(problem);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${await hashSecret(pin)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
