// Modbus against a real server: Debian's python3-pymodbus (test/support/modbus-server.py) serving
// the three built-in maps' registers. Missing peers fail with the install command, never skip.

import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ModbusServer,
  requireModbusPeer,
  runningModbusServers,
  startModbusServer,
} from '../../test/support/modbus.js';
import { isCollectorError } from '../common/errors.js';
import {
  collectModbus,
  eastronSdm,
  epeverTracer,
  ModbusPool,
  type ModbusTarget,
  powerTransition,
  type RegisterMap,
  RegisterMapError,
  rtuAvailable,
  SERIALPORT_MISSING,
  upsGeneric,
} from './index.js';

const pools: ModbusPool[] = [];
const newPool = (backoffMs = 50) => {
  const p = new ModbusPool({ backoff: { firstMs: backoffMs, maxMs: backoffMs * 4 } });
  pools.push(p);
  return p;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectCollectorError(p: Promise<unknown>, kind: string, text: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isCollectorError(err), `expected a CollectorError, got ${String(err)}`).toBe(true);
  expect((err as Error & { kind: string }).kind).toBe(kind);
  expect((err as Error).message).toMatch(text);
  return err as Error;
}

let server: ModbusServer;
const tcp = (unitId: number, port = server.port): ModbusTarget => ({
  transport: 'tcp',
  host: '127.0.0.1',
  port,
  unitId,
  timeoutMs: 1500,
});

beforeAll(async () => {
  requireModbusPeer();
  server = await startModbusServer();
});

afterAll(async () => {
  for (const p of pools) p.close();
  await Promise.all([...runningModbusServers].map((s) => s.stop('SIGKILL')));
});

describe('register maps against pymodbus', () => {
  it('generic UPS: status bits, 32-bit runtime, tenths of volts and hertz, a discrete input; two reads', async () => {
    const pool = newPool();
    const r = await collectModbus(tcp(1), upsGeneric, { pool });
    expect(r.kind).toBe('power');
    expect(r.identity).toMatchObject({ profile: 'ups-generic' });
    expect(r.readings).toHaveLength(1);
    expect(r.readings[0]!.values).toEqual({
      on_battery: 0,
      battery_low: 0,
      battery_replace: 0,
      battery_pct: 100,
      battery_runtime_s: 5400,
      battery_voltage_v: 27.3,
      battery_temperature_c: 31.5,
      input_voltage_v: 221.4,
      input_frequency_hz: 50,
      output_voltage_v: 220,
      output_load_pct: 23,
      input_fault: 0,
    });
    // Holding 0–9 in one read (FC 3), the discrete input in another (FC 2).
    // The server's REQ lines come on their own pipe, possibly after the answers: poll.
    await expect.poll(() => server.requests(1)).toEqual(['1 3 0 10', '1 2 0 1']);
  });

  it('EPEVER charge controller: hundredths, 32-bit values low word first, load circuit labelled; four reads', async () => {
    const pool = newPool();
    const r = await collectModbus(tcp(2), epeverTracer, { pool });
    const device = r.readings.find((x) => !x.labels)!;
    expect(device.values).toEqual({
      pv_voltage_v: 98.4,
      pv_current_a: 12.55,
      pv_power_w: 1234.92,
      battery_voltage_v: 27.2,
      charge_current_a: 42.5,
      charge_power_w: 1156,
      battery_temperature_c: 29.5,
      temperature_c: 41.25,
      battery_pct: 76,
    });
    expect(r.readings.find((x) => x.labels?.circuit === 'load')?.values).toEqual({
      voltage_v: 27.1,
      current_a: 3.2,
      power_w: 86.72,
    });
    expect(r.readings.find((x) => x.labels?.circuit === 'pv')?.values).toEqual({ energy_wh: 4_321_090 });
    await expect
      .poll(() => server.requests(2))
      .toEqual([`2 4 ${0x3100} 8`, `2 4 ${0x310c} 6`, `2 4 ${0x311a} 1`, `2 4 ${0x3312} 2`]);
  });

  it('Eastron meter: float32 high word first, kWh → Wh; small gaps read over, so three reads', async () => {
    const pool = newPool();
    const r = await collectModbus(tcp(3), eastronSdm, { pool });
    expect(r.readings[0]!.values).toEqual({
      voltage_v: 229.8,
      current_a: 4.35,
      power_w: 975.2,
      apparent_power_va: 1000.3,
      power_factor: 0.975,
      frequency_hz: 50.02,
      energy_wh: 1_523_400,
    });
    expect(r.readings.find((x) => x.labels?.direction === 'import')?.values).toEqual({
      energy_wh: 1_523_400,
    });
    expect(r.readings.find((x) => x.labels?.direction === 'export')?.values).toEqual({ energy_wh: 0 });
    await expect.poll(() => server.requests(3)).toEqual(['3 4 0 32', `3 4 ${0x46} 6`, `3 4 ${0x156} 2`]);
  });

  it('all units behind one endpoint share one kept-open connection', async () => {
    const pool = newPool();
    for (let i = 0; i < 2; i++) {
      await collectModbus(tcp(1), upsGeneric, { pool });
      await collectModbus(tcp(2), epeverTracer, { pool });
      await collectModbus(tcp(3), eastronSdm, { pool });
    }
    expect(pool.link(tcp(1)).connects).toBe(1);
    expect(pool.link(tcp(1)).requests).toBe(2 * (2 + 4 + 3));
  });

  it('a UPS going on battery and back gives power lost, then power restored', async () => {
    const pool = newPool();
    const onBattery = async () => (await collectModbus(tcp(1), upsGeneric, { pool })).readings[0]!.values;
    const before = await onBattery();
    server.signal('SIGUSR1');
    await expect.poll(() => /STATE on_battery=1/.test(server.output())).toBe(true);
    const during = await onBattery();
    expect(during).toMatchObject({ on_battery: 1, input_voltage_v: 0, input_fault: 1, battery_pct: 87 });
    expect(powerTransition(before.on_battery, during.on_battery)).toBe('power_lost');
    server.signal('SIGUSR1');
    await expect.poll(() => /STATE on_battery=0/.test(server.output())).toBe(true);
    const after = await onBattery();
    expect(powerTransition(during.on_battery, after.on_battery)).toBe('power_restored');
  });
});

describe('connection faults', () => {
  it('a server killed and restarted on the same port: refused while away, then read again on a new connection', async () => {
    const own = await startModbusServer();
    const pool = newPool(100);
    const target = tcp(1, own.port);
    await collectModbus(target, upsGeneric, { pool });
    const link = pool.link(target);
    expect(link.connects).toBe(1);

    await own.stop('SIGKILL');
    await expect.poll(() => link.isOpen).toBe(false);
    await expectCollectorError(
      collectModbus(target, upsGeneric, { pool }),
      'unreachable',
      /connection refused/,
    );
    // Within the back-off no connection is tried: the error says when the next attempt is.
    await expectCollectorError(
      collectModbus(target, upsGeneric, { pool }),
      'unreachable',
      /connection refused.*next connection attempt in 1 s/,
    );

    const back = await startModbusServer({ port: own.port });
    expect(back.port).toBe(own.port);
    await sleep(150);
    const r = await collectModbus(target, upsGeneric, { pool });
    expect(r.readings[0]!.values.battery_pct).toBe(100);
    expect(link.connects).toBe(2);
    await back.stop();
  });

  it('nothing listening: a clear unreachable CollectorError naming the endpoint', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const err = await expectCollectorError(
      collectModbus(tcp(1, port), upsGeneric, { pool: newPool() }),
      'unreachable',
      new RegExp(`tcp://127\\.0\\.0\\.1:${port}: connection refused`),
    );
    expect(err.message).not.toMatch(/undefined/);
  });

  it('a peer that accepts but never answers: a timeout CollectorError, and the connection is dropped', async () => {
    const silent: Server = createServer((sock) => sock.on('data', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const pool = newPool();
    const target = { ...tcp(1, port), timeoutMs: 300 };
    await expectCollectorError(
      collectModbus(target, upsGeneric, { pool }),
      'timeout',
      /holding 0–9: no answer within 300 ms/,
    );
    expect(pool.link(target).isOpen).toBe(false);
    silent.close();
  });

  it('registers the device does not have: unsupported, naming the unit and range', async () => {
    const wrong: RegisterMap = {
      id: 'wrong',
      name: 'Map for another device',
      entries: [{ metric: 'battery_pct', fn: 'holding', address: 40 }],
    };
    await expectCollectorError(
      collectModbus(tcp(2), wrong, { pool: newPool() }),
      'unsupported',
      /unit 2 holding 40 refused: Modbus exception 2: Illegal data address.*does not fit/,
    );
  });

  it('a unit id nobody answers to (pymodbus, like a bus, stays silent): a timeout naming the unit', async () => {
    await expectCollectorError(
      collectModbus({ ...tcp(9), timeoutMs: 400 }, upsGeneric, { pool: newPool() }),
      'timeout',
      /unit 9 holding 0–9: no answer within 400 ms/,
    );
  });

  it('a bad map is a RegisterMapError before anything is sent', async () => {
    const before = server.requests(1).length;
    const bad = { id: 'bad', name: 'Bad', entries: [{ metric: 'volts', fn: 'holding', address: 0 }] };
    await expect(collectModbus(tcp(1), bad as unknown as RegisterMap, { pool: newPool() })).rejects.toThrow(
      RegisterMapError,
    );
    await sleep(100);
    expect(server.requests(1).length).toBe(before);
  });
});

describe('Modbus RTU', () => {
  it(
    rtuAvailable()
      ? 'reads the generic UPS over a serial line (pseudo-terminal) with serialport'
      : 'says plainly that RTU needs the optional serialport package',
    async () => {
      if (!rtuAvailable()) {
        await expectCollectorError(
          collectModbus({ transport: 'rtu', path: '/dev/ttyUSB0', unitId: 1, timeoutMs: 500 }, upsGeneric),
          'unsupported',
          /serialport/,
        );
        expect(SERIALPORT_MISSING).toMatch(/npm install serialport/);
        return;
      }
      const rtu = await startModbusServer({ rtu: true });
      const pool = newPool();
      const target: ModbusTarget = {
        transport: 'rtu',
        path: rtu.path!,
        baudRate: 9600,
        unitId: 1,
        timeoutMs: 2000,
      };
      const r = await collectModbus(target, upsGeneric, { pool });
      expect(r.readings[0]!.values).toMatchObject({
        battery_pct: 100,
        input_voltage_v: 221.4,
        battery_runtime_s: 5400,
      });
      const meter = await collectModbus({ ...target, unitId: 3 }, eastronSdm, { pool });
      expect(meter.readings[0]!.values.voltage_v).toBe(229.8);
      pool.close();
      await rtu.stop();
    },
  );

  it('a serial port that does not exist: unreachable, naming it', async () => {
    if (!rtuAvailable()) return expect(rtuAvailable()).toBe(false);
    await expectCollectorError(
      collectModbus({ transport: 'rtu', path: '/dev/ttyNOPE0', unitId: 1, timeoutMs: 500 }, upsGeneric, {
        pool: newPool(),
      }),
      'unreachable',
      /rtu:\/\/\/dev\/ttyNOPE0/,
    );
  });
});
