// Register maps: where a Modbus device keeps each number and how to turn the raw registers into a
// metric of ours. Maps are data (`maps/*.ts`, or a site's own in its config file); this file
// checks one and says in plain words what is wrong, naming the field.

import { type DeviceKind, isMetricName, type MetricName } from '@pantau/contract';

/** Modbus read functions: holding registers (FC 3), input registers (FC 4), coils (FC 1), discrete inputs (FC 2). */
export type RegisterFn = 'holding' | 'input' | 'coil' | 'discrete';
export type RegisterType = 'u16' | 'i16' | 'u32' | 'i32' | 'f32';
export type WordOrder = 'be' | 'le';

export interface RegisterEntry {
  /** A contract metric name; its unit is in the name (`input_voltage_v`), so the map cannot mislabel it. */
  metric: MetricName;
  fn: RegisterFn;
  /** Protocol (0-based) address as sent on the wire: holding register "40001" is holding 0. */
  address: number;
  /** Registers only; default u16. u32, i32 and f32 take two registers. Coils and discrete inputs read 0 or 1. */
  type?: RegisterType;
  /** Two-register values: `be` = high word first (Modbus's usual order), `le` = low word first. Default be. */
  word_order?: WordOrder;
  /** Multiplies the raw value (0.1 for tenths, 1000 for kWh → Wh). Default 1. */
  scale?: number;
  /** Added after scaling. Default 0. */
  offset?: number;
  /** Takes one bit of the raw value (0 = least significant) → 0 or 1, for status words. */
  bit?: number;
  /** Raw value (after `bit`) → metric value, for enumerations; a raw value not listed gives no reading. */
  enum?: Record<string, number>;
  /** Raw values that mean "no reading" (e.g. 0xFFFF on some devices). */
  no_value?: number[];
  /** Makes the value its own labelled reading, e.g. `{ circuit: 'load' }`, `{ phase: '2' }`. */
  labels?: Record<string, string>;
}

export interface RegisterMap {
  /** Slug, e.g. `eastron-sdm`. Becomes the identity's `profile`. */
  id: string;
  /** Human name, e.g. "Eastron SDM energy meter". */
  name: string;
  vendor?: string;
  /** Contract device kind; default `power`. */
  kind?: DeviceKind;
  /** Unused registers a single read may span between two entries. Default 0: only contiguous
   *  registers share a read, because many devices answer "illegal address" for a gap. */
  max_gap?: number;
  /** Most registers (or coils) one read may ask for. Default 125 registers / 2000 coils (the protocol's limits). */
  max_count?: number;
  entries: RegisterEntry[];
}

export interface MapIssue {
  /** Path to the field, e.g. `['entries', 3, 'type']`; the same shape as the config loader's issues. */
  path: Array<string | number>;
  message: string;
}

export class RegisterMapError extends Error {
  override name = 'RegisterMapError';
  constructor(
    readonly source: string,
    readonly issues: MapIssue[],
  ) {
    super(
      `${source}: invalid register map\n${issues.map((i) => `  ${fieldOf(i.path)}: ${i.message}`).join('\n')}`,
    );
  }
}

export const REGISTER_FNS: readonly RegisterFn[] = ['holding', 'input', 'coil', 'discrete'];
export const REGISTER_TYPES: readonly RegisterType[] = ['u16', 'i16', 'u32', 'i32', 'f32'];
const DEVICE_KINDS: readonly DeviceKind[] = ['radio', 'camera', 'terminal', 'power', 'host'];
const ENTRY_KEYS = [
  'metric',
  'fn',
  'address',
  'type',
  'word_order',
  'scale',
  'offset',
  'bit',
  'enum',
  'no_value',
  'labels',
];
const MAP_KEYS = ['id', 'name', 'vendor', 'kind', 'max_gap', 'max_count', 'entries'];

/** Registers a value of this type takes. */
export const wordsOf = (type: RegisterType | undefined): number =>
  type === 'u32' || type === 'i32' || type === 'f32' ? 2 : 1;

export const isRegisterFn = (fn: RegisterFn): boolean => fn === 'holding' || fn === 'input';

/** The protocol's own limit on one read: 125 registers (FC 3/4), 2000 bits (FC 1/2). */
export const protocolMaxCount = (fn: RegisterFn): number => (isRegisterFn(fn) ? 125 : 2000);

function fieldOf(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(map)';
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const oneOf = (list: readonly string[]) => `must be one of ${list.join(', ')}`;

/** The closest known name, for "unknown field" messages: a typo one or two letters off. */
function closest(word: string, known: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(
          d[i - 1]![j]! + 1,
          d[i]![j - 1]! + 1,
          d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
    return d[a.length]![b.length]!;
  };
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const dd = dist(word, k);
    if (dd < bestD) {
      best = k;
      bestD = dd;
    }
  }
  return best;
}

function unknownKeys(
  o: Record<string, unknown>,
  known: readonly string[],
  at: Array<string | number>,
): MapIssue[] {
  return Object.keys(o)
    .filter((k) => !known.includes(k))
    .map((k) => {
      const hint = closest(k, known);
      return {
        path: [...at, k],
        message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields: ${known.join(', ')}`,
      };
    });
}

function entryIssues(e: unknown, at: Array<string | number>): MapIssue[] {
  if (!isObject(e)) return [{ path: at, message: 'must be an object with metric, fn and address' }];
  const out = unknownKeys(e, ENTRY_KEYS, at);
  const bad = (field: string, message: string) => out.push({ path: [...at, field], message });

  if (typeof e.metric !== 'string') bad('metric', 'is required: a metric name such as input_voltage_v');
  else if (!isMetricName(e.metric))
    bad(
      'metric',
      `unknown metric "${e.metric}" (names carry their unit, e.g. input_voltage_v, power_w, battery_pct)`,
    );

  const fn = e.fn as RegisterFn;
  if (e.fn === undefined) bad('fn', `is required: ${oneOf(REGISTER_FNS)}`);
  else if (!REGISTER_FNS.includes(fn)) bad('fn', oneOf(REGISTER_FNS));
  const registers = REGISTER_FNS.includes(fn) && isRegisterFn(fn);
  const bits = REGISTER_FNS.includes(fn) && !registers;

  const type = e.type as RegisterType | undefined;
  if (type !== undefined) {
    if (!REGISTER_TYPES.includes(type)) bad('type', oneOf(REGISTER_TYPES));
    else if (bits) bad('type', `a ${fn} is a single bit (0 or 1): leave out type`);
  }
  const words = REGISTER_TYPES.includes(type as RegisterType) ? wordsOf(type) : 1;

  if (e.address === undefined)
    bad('address', 'is required: the 0-based protocol address (register 40001 is holding 0)');
  else if (!isInt(e.address) || e.address < 0 || e.address > 65535)
    bad('address', 'must be a whole number from 0 to 65535 (the 0-based protocol address)');
  else if (e.address + words - 1 > 65535)
    bad('address', `a ${type} takes ${words} registers: it must start at 65534 or below`);

  if (e.word_order !== undefined) {
    if (e.word_order !== 'be' && e.word_order !== 'le')
      bad('word_order', 'must be be (high word first) or le (low word first)');
    else if (words !== 2) bad('word_order', 'only two-register values (u32, i32, f32) have a word order');
  }
  for (const f of ['scale', 'offset'] as const) {
    const v = e[f];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) bad(f, 'must be a number');
  }
  if (e.scale === 0) bad('scale', 'must not be 0 (every value would read 0)');
  if (e.bit !== undefined) {
    const width = type === 'u32' || type === 'i32' ? 32 : 16;
    if (bits) bad('bit', `a ${fn} is already a single bit: leave out bit`);
    else if (type === 'f32') bad('bit', 'a float has no bits to take: use u16 or u32');
    else if (!isInt(e.bit) || e.bit < 0 || e.bit >= width)
      bad('bit', `must be a whole number from 0 to ${width - 1}`);
  }
  if (e.enum !== undefined) {
    if (!isObject(e.enum) || Object.keys(e.enum).length === 0)
      bad('enum', 'must map raw values to numbers, e.g. { "1": 0, "3": 1 }');
    else
      for (const [k, v] of Object.entries(e.enum)) {
        if (!/^-?\d+$/.test(k))
          out.push({ path: [...at, 'enum', k], message: 'raw values must be whole numbers' });
        if (typeof v !== 'number' || !Number.isFinite(v))
          out.push({ path: [...at, 'enum', k], message: 'must be a number' });
      }
    if (e.scale !== undefined || e.offset !== undefined)
      bad('enum', 'an enumeration gives the value itself: leave out scale and offset');
  }
  if (
    e.no_value !== undefined &&
    (!Array.isArray(e.no_value) || !e.no_value.every((v) => typeof v === 'number'))
  )
    bad('no_value', 'must be a list of numbers');
  if (e.labels !== undefined) {
    if (!isObject(e.labels)) bad('labels', 'must be an object of text labels, e.g. { phase: "2" }');
    else
      for (const [k, v] of Object.entries(e.labels))
        if (typeof v !== 'string' || v === '')
          out.push({ path: [...at, 'labels', k], message: 'must be a non-empty text' });
  }
  return out;
}

/** Every problem with a register map, each with the path of its field (empty when the map is good). */
export function registerMapIssues(input: unknown, at: Array<string | number> = []): MapIssue[] {
  if (!isObject(input))
    return [{ path: at, message: 'a register map must be an object with id, name and entries' }];
  const out = unknownKeys(input, MAP_KEYS, at);
  const bad = (field: string, message: string) => out.push({ path: [...at, field], message });
  if (typeof input.id !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(input.id))
    bad('id', 'is required: a lowercase slug such as eastron-sdm');
  if (typeof input.name !== 'string' || input.name.trim() === '')
    bad('name', 'is required: a human name for the device');
  if (input.vendor !== undefined && typeof input.vendor !== 'string') bad('vendor', 'must be text');
  if (input.kind !== undefined && !DEVICE_KINDS.includes(input.kind as DeviceKind))
    bad('kind', oneOf(DEVICE_KINDS));
  if (input.max_gap !== undefined && (!isInt(input.max_gap) || input.max_gap < 0 || input.max_gap > 124))
    bad('max_gap', 'must be a whole number from 0 to 124');
  if (
    input.max_count !== undefined &&
    (!isInt(input.max_count) || input.max_count < 1 || input.max_count > 2000)
  )
    bad('max_count', 'must be a whole number from 1 to 2000');
  if (!Array.isArray(input.entries) || input.entries.length === 0) {
    bad('entries', 'is required: a list of at least one register entry');
    return out;
  }
  const seen = new Map<string, number>();
  input.entries.forEach((e, i) => {
    const path = [...at, 'entries', i];
    out.push(...entryIssues(e, path));
    if (!isObject(e) || typeof e.metric !== 'string') return;
    // The same metric twice with the same labels: the second would silently overwrite the first.
    const labels = isObject(e.labels) ? Object.entries(e.labels).sort(([a], [b]) => a.localeCompare(b)) : [];
    const key = `${e.metric} ${JSON.stringify(labels)}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      out.push({
        path: [...path, 'metric'],
        message: `${e.metric} is already read by entries[${first}] with the same labels: give one of them labels`,
      });
  });
  return out;
}

/** Checks a register map (from a config file or a built-in table) and returns it typed; throws
 *  RegisterMapError listing every problem, each naming its field. */
export function loadRegisterMap(input: unknown, source = 'register map'): RegisterMap {
  const issues = registerMapIssues(input);
  if (issues.length > 0) throw new RegisterMapError(source, issues);
  return input as RegisterMap;
}
