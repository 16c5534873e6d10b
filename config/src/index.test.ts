import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, duplicateIds, isHostAddress, parseConfig } from './index.js';

const Schema = Type.Object(
  {
    site: Type.String({ format: 'slug' }),
    interval_s: Type.Integer({ minimum: 1, default: 30 }),
    devices: Type.Array(
      Type.Object(
        { id: Type.String({ format: 'slug' }), address: Type.String({ format: 'host' }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

function issues(text: string) {
  try {
    parseConfig(text, 'site.yaml', Schema, {
      check: (v) => duplicateIds(v.devices, ['devices'], 'device id'),
    });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}:${i.field}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('config loader', () => {
  it('applies defaults to a good file', () => {
    expect(parseConfig('site: rsud\ndevices: []\n', 'x.yaml', Schema)).toEqual({
      site: 'rsud',
      interval_s: 30,
      devices: [],
    });
  });
  it('names line and field of an unknown key', () => {
    expect(issues('site: rsud\ndevices:\n  - id: a\n    adress: 10.0.0.1\n')).toEqual([
      '3:devices[0].address: is required but missing',
      '4:devices[0].adress: unknown key (check the spelling)',
    ]);
  });
  it('names a wrong type', () => {
    expect(issues('site: rsud\ninterval_s: "ten"\ndevices: []\n')).toEqual([
      '2:interval_s: must be an integer',
    ]);
  });
  it('names a bad address', () => {
    expect(issues('site: rsud\ndevices:\n  - id: a\n    address: 192.168.1.300\n')).toEqual([
      '4:devices[0].address: is not a valid IP address or host name',
    ]);
  });
  it('names a duplicate id at its repeat', () => {
    expect(issues('site: rsud\ndevices:\n  - id: a\n    address: h1\n  - id: a\n    address: h2\n')).toEqual([
      '5:devices[1].id: duplicate device id "a" (first used at devices[0])',
    ]);
  });
  it('reports YAML syntax errors with their line', () => {
    expect(issues('site: rsud\ndevices: [\n')[0]).toMatch(/^3:: YAML syntax/);
  });
  it('knows a host address', () => {
    expect(isHostAddress('10.1.2.3')).toBe(true);
    expect(isHostAddress('::1')).toBe(true);
    expect(isHostAddress('radio-rsud.pemda.local')).toBe(true);
    expect(isHostAddress('10.1.2')).toBe(false);
    expect(isHostAddress('bad host')).toBe(false);
  });
});
