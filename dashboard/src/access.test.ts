import { describe, expect, it } from 'vitest';
import { liveEventFor, mayCall, rolesFor } from './access.js';

describe('API access by role', () => {
  it('gives each audience its own APIs and nothing else', () => {
    expect(mayCall('leadership', '/api/summary')).toBe(true);
    expect(mayCall('leadership', '/api/uptime')).toBe(true);
    expect(mayCall('leadership', '/api/cameras')).toBe(false);
    expect(mayCall('operator', '/api/cameras/:site/:device/thumbnail')).toBe(true);
    expect(mayCall('operator', '/api/incidents/ack')).toBe(true);
    expect(mayCall('operator', '/api/links/:id')).toBe(false);
    expect(mayCall('hr', '/api/attendance/gaps')).toBe(true);
    expect(mayCall('hr', '/api/devices')).toBe(false);
    expect(mayCall('installer', '/api/sites/:site/sequence')).toBe(true);
    expect(mayCall('installer', '/api/backbone')).toBe(false);
    expect(mayCall('admin', '/api/users/:username')).toBe(true);
    expect(mayCall('engineer', '/api/users')).toBe(false);
    expect(mayCall('engineer', '/api/audit')).toBe(true);
    expect(mayCall('operator', '/api/audit')).toBe(false);
    // Everyone changes their own password.
    expect(mayCall('hr', '/api/me/password')).toBe(true);
  });

  it('matches whole path segments and denies unlisted routes to all but engineers', () => {
    // "/api/sitesX" is not under "/api/sites".
    expect(rolesFor('/api/sitesX')).toEqual(['admin', 'engineer']);
    expect(rolesFor('/api/new-thing')).toEqual(['admin', 'engineer']);
    expect(mayCall('operator', '/api/new-thing')).toBe(false);
    expect(mayCall('engineer', '/api/new-thing')).toBe(true);
  });

  it('tells only engineers what a live message says; others learn that something changed', () => {
    const e = { type: 'device-state' as const, site: 'rsud', device: 'cam-1', payload: { status: 'down' } };
    expect(liveEventFor('engineer', e)).toEqual(e);
    expect(liveEventFor('hr', e)).toEqual({ type: 'device-state', site: 'rsud', device: 'cam-1' });
  });
});
