// Modbus connections kept open between polls (modbus-serial). One link per TCP endpoint or serial
// port; every unit behind it (an RS-485 bus, a TCP→RTU gateway) shares it, one request at a time.
// A link that closes or stops answering is reopened at the next read; a failed open waits a back-off
// (1 s, 2 s, 4 s … 60 s) before the next attempt, so a dead device is not hammered.

import modbusSerial from 'modbus-serial';
import { CollectorError } from '../common/errors.js';
import type { RegisterFn } from './map.js';

const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;

export interface ModbusTarget {
  transport: 'tcp' | 'rtu';
  /** TCP: device or gateway address. */
  host?: string;
  /** TCP port; default 502. */
  port?: number;
  /** RTU: serial device, e.g. /dev/ttyUSB0. */
  path?: string;
  /** RTU line settings; default 9600 8N1. */
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
  /** Modbus unit (slave) id: 1–247 on a serial bus; TCP devices often answer 1 or 255. */
  unitId: number;
  /** Per request: opening the connection and each read. */
  timeoutMs: number;
}

/** What function 43/14 told about a device. */
export interface ModbusIdentity {
  vendor?: string;
  product?: string;
  revision?: string;
  model?: string;
}

export interface BackoffOptions {
  /** Wait after the first failed open; doubles with each further failure. */
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { firstMs: 1000, maxMs: 60_000 };

export const SERIALPORT_MISSING =
  'Modbus RTU needs the optional "serialport" package, which is not installed here: ' +
  'run "npm install serialport" in the collectors workspace (Modbus TCP works without it)';

/** Whether modbus-serial could load its serial port support (the optional `serialport` package). */
export function rtuAvailable(): boolean {
  return (modbusSerial as unknown as { RTUBufferedPort?: unknown }).RTUBufferedPort !== undefined;
}

/** Where a target's link goes: one link per endpoint, shared by its units. */
export function endpointKey(t: ModbusTarget): string {
  return t.transport === 'tcp' ? `tcp://${t.host}:${t.port ?? 502}` : `rtu://${t.path}`;
}

interface ModbusLibError {
  message?: string;
  errno?: string;
  code?: string;
  modbusCode?: number;
}

/** Modbus exception codes → what they mean for the map and the device. */
function exceptionError(where: string, what: string, code: number, message: string): CollectorError {
  const text = `${where}: ${what} refused: ${message}`;
  if (code === 1 || code === 2 || code === 3)
    return new CollectorError('unsupported', `${text} (the register map does not fit this device)`);
  if (code === 10) return new CollectorError('unreachable', `${text} (the gateway has no path to this unit)`);
  if (code === 11)
    return new CollectorError('timeout', `${text} (the unit behind the gateway did not answer)`);
  if (code === 6) return new CollectorError('timeout', text);
  return new CollectorError('malformed', text);
}

function openError(where: string, e: ModbusLibError, timeoutMs: number): CollectorError {
  const code = e.code ?? e.errno ?? '';
  const msg = e.message ?? String(e);
  if (code === 'ECONNREFUSED')
    return new CollectorError('unreachable', `${where}: connection refused (nothing listens there)`, {
      cause: e,
    });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return new CollectorError('unreachable', `${where}: no route to the device (${code})`, { cause: e });
  if (code === 'ENOENT')
    return new CollectorError('unreachable', `${where}: no such serial port`, { cause: e });
  if (code === 'EACCES')
    return new CollectorError(
      'unreachable',
      `${where}: permission denied on the serial port (is the user in the dialout group?)`,
      {
        cause: e,
      },
    );
  if (code === 'ETIMEDOUT' || /timed out/i.test(msg))
    return new CollectorError('timeout', `${where}: no answer to the connection within ${timeoutMs} ms`, {
      cause: e,
    });
  return new CollectorError('unreachable', `${where}: cannot connect: ${msg}`, { cause: e });
}

export class ModbusLink {
  /** Successful opens, including reconnects (for tests and health). */
  connects = 0;
  /** Read requests sent. */
  requests = 0;
  private client: Client | null = null;
  private closed: Promise<never> | null = null;
  private failures = 0;
  private retryAt = 0;
  private lastError = '';
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly target: ModbusTarget,
    private readonly opts: { backoff: BackoffOptions; now: () => number },
  ) {}

  get where(): string {
    return endpointKey(this.target);
  }

  get isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  /** Reads `count` registers (as unsigned 16-bit words) or bits (as 0/1) from one unit. */
  read(unitId: number, fn: RegisterFn, address: number, count: number, timeoutMs: number): Promise<number[]> {
    const run = this.tail.then(() => this.readNow(unitId, fn, address, count, timeoutMs));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Read Device Identification (function 43/14, basic objects): vendor, product code and revision,
   * and the model name when the device gives the regular objects. Null when the device does not
   * implement it (many cheap UPSes and meters): then only a register map can tell what it is.
   */
  identify(unitId: number, timeoutMs: number): Promise<ModbusIdentity | null> {
    const run = this.tail.then(async () => {
      const client = await this.open(timeoutMs);
      client.setID(unitId);
      client.setTimeout(timeoutMs);
      this.requests++;
      const request = client.readDeviceIdentification(1, 0);
      try {
        const r = await Promise.race([request, this.closed!]);
        // modbus-serial gives the objects keyed by object id (typed as an array).
        const obj = (i: number) => String((r.data as unknown as Record<number, string>)[i] ?? '').trim();
        const [vendor, product, revision] = [obj(0), obj(1), obj(2)];
        if (!vendor && !product) return null;
        // Regular objects from 3 on: 4 ProductName, 5 ModelName.
        const model = await client
          .readDeviceIdentification(2, 3)
          .then((m) => {
            const d = m.data as unknown as Record<number, string>;
            return String(d[5] ?? d[4] ?? '').trim();
          })
          .catch(() => '');
        return {
          ...(vendor ? { vendor } : {}),
          ...(product ? { product } : {}),
          ...(revision ? { revision } : {}),
          ...(model ? { model } : {}),
        };
      } catch (err) {
        request.catch(() => undefined);
        // An exception answer (illegal function) is a clear "no"; silence may leave a half frame.
        if (typeof (err as ModbusLibError).modbusCode !== 'number') this.drop();
        return null;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async readNow(
    unitId: number,
    fn: RegisterFn,
    address: number,
    count: number,
    timeoutMs: number,
  ): Promise<number[]> {
    const client = await this.open(timeoutMs);
    const closed = this.closed!;
    const what = `unit ${unitId} ${fn} ${address}${count > 1 ? `–${address + count - 1}` : ''}`;
    client.setID(unitId);
    client.setTimeout(timeoutMs);
    this.requests++;
    const request =
      fn === 'holding'
        ? client.readHoldingRegisters(address, count)
        : fn === 'input'
          ? client.readInputRegisters(address, count)
          : fn === 'coil'
            ? client.readCoils(address, count)
            : client.readDiscreteInputs(address, count);
    try {
      const r = await Promise.race([request, closed]);
      const data = (r.data as Array<number | boolean>)
        .slice(0, count)
        .map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
      if (data.length < count)
        throw new CollectorError(
          'malformed',
          `${this.where}: ${what}: answer has ${data.length} values, not ${count}`,
        );
      return data;
    } catch (err) {
      request.catch(() => undefined);
      if (err instanceof CollectorError) {
        if (err.kind !== 'unsupported') this.drop();
        throw err;
      }
      const e = err as ModbusLibError;
      if (typeof e.modbusCode === 'number')
        throw exceptionError(this.where, what, e.modbusCode, e.message ?? '');
      // No answer: the device may be gone without a word (power cut, half-open TCP), or an RTU line
      // may hold half a frame. Start afresh next time either way.
      this.drop();
      if (e.errno === 'ETIMEDOUT' || /timed out/i.test(e.message ?? ''))
        throw new CollectorError('timeout', `${this.where}: ${what}: no answer within ${timeoutMs} ms`, {
          cause: err,
        });
      if (e.errno === 'ECONNREFUSED' || /not open/i.test(e.message ?? ''))
        throw new CollectorError('unreachable', `${this.where}: ${what}: connection lost`, { cause: err });
      throw new CollectorError('malformed', `${this.where}: ${what}: ${e.message ?? String(err)}`, {
        cause: err,
      });
    }
  }

  private async open(timeoutMs: number): Promise<Client> {
    if (this.client?.isOpen && this.closed) return this.client;
    this.drop();
    const now = this.opts.now();
    if (now < this.retryAt)
      throw new CollectorError(
        'unreachable',
        `${this.where}: ${this.lastError}; next connection attempt in ${Math.ceil((this.retryAt - now) / 1000)} s`,
      );
    const t = this.target;
    if (t.transport === 'rtu' && !rtuAvailable()) throw new CollectorError('unsupported', SERIALPORT_MISSING);
    const client = new ModbusRTU();
    // Errors reach us through the calls; an 'error' event without a listener would end the process.
    client.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      const opening =
        t.transport === 'tcp'
          ? client.connectTCP(t.host ?? '', { port: t.port ?? 502 })
          : client.connectRTUBuffered(t.path ?? '', {
              baudRate: t.baudRate ?? 9600,
              parity: t.parity ?? 'none',
              dataBits: t.dataBits ?? 8,
              stopBits: t.stopBits ?? 1,
            });
      await Promise.race([
        opening,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })),
            timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      destroy(client);
      const err = openError(this.where, e as ModbusLibError, timeoutMs);
      this.failures++;
      const wait = Math.min(this.opts.backoff.maxMs, this.opts.backoff.firstMs * 2 ** (this.failures - 1));
      this.retryAt = this.opts.now() + wait;
      this.lastError = err.message.slice(this.where.length + 2);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.failures = 0;
    this.retryAt = 0;
    this.connects++;
    this.client = client;
    this.closed = new Promise<never>((_, reject) => {
      client.on('close', () => {
        if (this.client === client) {
          this.client = null;
          this.closed = null;
        }
        reject(new CollectorError('unreachable', `${this.where}: the device closed the connection`));
      });
    });
    this.closed.catch(() => undefined);
    return client;
  }

  /** Forgets the current connection (the next read opens a new one). */
  private drop(): void {
    const c = this.client;
    this.client = null;
    this.closed = null;
    if (c) destroy(c);
  }

  close(): void {
    this.drop();
  }
}

function destroy(c: Client): void {
  try {
    // modbus-serial calls the callback unconditionally: it must be given one.
    c.destroy(() => undefined);
  } catch {
    // already gone
  }
}

/** Links by endpoint. A site box keeps one pool for all its Modbus devices. */
export class ModbusPool {
  private readonly links = new Map<string, ModbusLink>();
  private readonly backoff: BackoffOptions;
  private readonly now: () => number;

  constructor(opts: { backoff?: Partial<BackoffOptions>; now?: () => number } = {}) {
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.now = opts.now ?? Date.now;
  }

  link(target: ModbusTarget): ModbusLink {
    const key = endpointKey(target);
    let l = this.links.get(key);
    if (!l) {
      l = new ModbusLink(target, { backoff: this.backoff, now: this.now });
      this.links.set(key, l);
    }
    return l;
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
