import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FoundDevice } from '../scan/index.js';
import { addDevice, DraftError, deviceIds, removeDevice, slugify } from './draft.js';

const dir = mkdtempSync(join(tmpdir(), 'pantau-draft-'));
const file = join(dir, 'site.yaml');
const SITE = `# Pasar: keep this comment
site: { id: pasar }
devices:
  - { id: radio-pasar, kind: radio, address: 10.1.2.2 }   # the uplink radio
`;
writeFileSync(file, SITE);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const camera: FoundDevice = {
  address: '10.1.2.20',
  port: 8080,
  kind: 'camera',
  via: 'ws-discovery',
  already_configured: false,
  access: { onvif: { port: 8080, path: '/onvif/device_service', xaddr: '', authenticated: true } },
};
const terminal: FoundDevice = {
  address: '10.1.2.30',
  port: 4370,
  kind: 'terminal',
  via: 'zk',
  already_configured: false,
  access: { zk: { port: 4370, transport: 'udp' } },
};

describe('installer draft of site.yaml', () => {
  it('appends a camera, keeps comments and one-line entries, puts the password in its own file', () => {
    const text = addDevice(SITE, file, {
      found: camera,
      id: 'kamera-pasar-1',
      name: 'Kamera Pasar 1',
      location: 'Tiang depan',
      priority: 'emergency',
      camera: { username: 'admin', password: 's3cret-kamera' },
    });
    expect(text).toMatch(/^# Pasar: keep this comment/);
    expect(text).toContain('- { id: radio-pasar, kind: radio, address: 10.1.2.2 } # the uplink radio');
    expect(text).toMatch(
      /id: kamera-pasar-1\n\s+name: Kamera Pasar 1\n\s+location: Tiang depan\n\s+priority: emergency\n\s+kind: camera/,
    );
    expect(text).toMatch(/port: 8080/);
    expect(text).toMatch(/password_file: secrets\/kamera-pasar-1\.password/);
    expect(text).not.toContain('s3cret-kamera');
    const secret = join(dir, 'secrets', 'kamera-pasar-1.password');
    expect(readFileSync(secret, 'utf8')).toBe('s3cret-kamera\n');
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    expect(deviceIds(text)).toEqual(['radio-pasar', 'kamera-pasar-1']);
    expect(deviceIds(removeDevice(text, 'kamera-pasar-1'))).toEqual(['radio-pasar']);
  });

  it('writes a terminal with its transport and comm key file', () => {
    const text = addDevice(SITE, file, {
      found: terminal,
      id: 'absen-pasar',
      name: 'Absen Pasar',
      priority: 'basic',
      commKey: 12345,
    });
    expect(text).toMatch(/zk:\n\s+transport: udp\n\s+comm_key_file: secrets\/absen-pasar\.commkey/);
    expect(readFileSync(join(dir, 'secrets', 'absen-pasar.commkey'), 'utf8').trim()).toBe('12345');
  });

  it('refuses a taken or malformed id, a missing name, a camera without password', () => {
    const base = { found: terminal, name: 'X', priority: 'normal' as const };
    expect(() => addDevice(SITE, file, { ...base, id: 'radio-pasar' })).toThrow(DraftError);
    expect(() => addDevice(SITE, file, { ...base, id: 'Bad Id' })).toThrow(/cannot be a device id/);
    expect(() => addDevice(SITE, file, { ...base, id: 'gateway' })).toThrow(/cannot be a device id/);
    expect(() => addDevice(SITE, file, { ...base, id: 'ok-id', name: ' ' })).toThrow(/name/);
    expect(() => addDevice(SITE, file, { ...base, found: camera, id: 'cam' })).toThrow(/password/);
  });

  it('makes ids from place names', () => {
    expect(slugify('Pasar Sentral – Kamera 1')).toBe('pasar-sentral-kamera-1');
    expect(slugify('  Jalan Poros Watansoppeng  ')).toBe('jalan-poros-watansoppeng');
    expect(slugify('Café Ümbul')).toBe('cafe-umbul');
  });
});
