// One net-snmp session per device, reused across polls, with promise methods and failures mapped to
// the collector's typed errors.

import { isIP } from 'node:net';
import snmp, { type NetSnmpVarbind, type Session } from 'net-snmp';
import { CollectorError } from '../common/errors.js';
import { compareOid, isUnder, type Oid, oidString, parseOid } from './oid.js';

export interface SnmpV3Credentials {
  user: string;
  level: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
  authProtocol?: 'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  authKey?: string;
  privProtocol?: 'des' | 'aes' | 'aes256b' | 'aes256r';
  privKey?: string;
  context?: string;
}

export interface SnmpTarget {
  address: string;
  port: number;
  version: '1' | '2c' | '3';
  community?: string;
  v3?: SnmpV3Credentials;
  timeoutMs: number;
  retries: number;
  /** GETBULK max-repetitions; 20 keeps a reply under one 1500-byte frame for typical tables. */
  maxRepetitions?: number;
}

/** A value as read: numbers stay exact as bigint where they can exceed 2^53 (Counter64). */
export type SnmpValue = number | bigint | string | Buffer | null;

export interface SnmpVar {
  oid: number[];
  /** ASN.1/SNMP type tag (2 Integer, 4 OctetString, 65 Counter32, 70 Counter64, 128+ exceptions, …). */
  type: number;
  value: SnmpValue;
}

export const NO_SUCH_OBJECT = 128;
export const NO_SUCH_INSTANCE = 129;
export const END_OF_MIB_VIEW = 130;

export function isException(v: SnmpVar): boolean {
  return v.type >= NO_SUCH_OBJECT && v.type <= END_OF_MIB_VIEW;
}

function convert(vb: NetSnmpVarbind): SnmpVar {
  const oid = parseOid(vb.oid);
  if (vb.type >= NO_SUCH_OBJECT) return { oid, type: vb.type, value: null };
  // net-snmp gives Counter64 as big-endian bytes.
  if (vb.type === 70 && Buffer.isBuffer(vb.value)) {
    let v = 0n;
    for (const b of vb.value) v = (v << 8n) | BigInt(b);
    return { oid, type: vb.type, value: v };
  }
  return { oid, type: vb.type, value: vb.value as SnmpValue };
}

function mapError(e: Error, target: SnmpTarget): CollectorError {
  const where = `${target.address}:${target.port}`;
  if (e instanceof snmp.RequestTimedOutError) {
    // net-snmp's agent drops a request it cannot decrypt without a report: a wrong priv key is silence.
    const hint =
      target.version === '3' && target.v3?.level === 'authPriv'
        ? ' (with SNMPv3 authPriv a wrong priv key or priv protocol also looks like this)'
        : '';
    return new CollectorError('timeout', `no SNMP answer from ${where}${hint}`, { cause: e });
  }
  if (e instanceof snmp.ResponseInvalidError) {
    if (
      e.code === snmp.ResponseInvalidCode.EAuthFailure ||
      e.code === snmp.ResponseInvalidCode.ENotInTimeWindow
    )
      return new CollectorError('auth', `SNMPv3 authentication refused by ${where}: ${e.message}`, {
        cause: e,
      });
    if (e.code === snmp.ResponseInvalidCode.ECommunityNoMatch)
      return new CollectorError('auth', `community refused by ${where}`, { cause: e });
    return new CollectorError('malformed', `invalid SNMP reply from ${where}: ${e.message}`, { cause: e });
  }
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return new CollectorError('unreachable', `${where} unreachable (${code})`, { cause: e });
  if (e instanceof snmp.RequestFailedError)
    return new CollectorError('malformed', `${where} failed the request: ${e.message}`, { cause: e });
  return new CollectorError('malformed', `SNMP error from ${where}: ${e.message}`, { cause: e });
}

export class SnmpSession {
  private session: Session | null = null;
  /** Requests sent over this session's lifetime, for statistics and benchmarks. */
  requests = 0;
  /** Rows each column had at the last walk. */
  private readonly rowHint = new Map<string, number>();

  constructor(readonly target: SnmpTarget) {}

  private open(): Session {
    if (this.session) return this.session;
    const t = this.target;
    const options = {
      port: t.port,
      retries: t.retries,
      timeout: t.timeoutMs,
      transport: isIP(t.address) === 6 ? ('udp6' as const) : ('udp4' as const),
      backwardsGetNexts: false,
    };
    let s: Session;
    if (t.version === '3') {
      if (!t.v3) throw new CollectorError('auth', 'SNMPv3 needs a v3 user');
      s = snmp.createV3Session(
        t.address,
        {
          name: t.v3.user,
          level: snmp.SecurityLevel[t.v3.level],
          authProtocol: t.v3.authProtocol ? snmp.AuthProtocols[t.v3.authProtocol] : undefined,
          authKey: t.v3.authKey,
          privProtocol: t.v3.privProtocol ? snmp.PrivProtocols[t.v3.privProtocol] : undefined,
          privKey: t.v3.privKey,
        },
        { ...options, version: snmp.Version3, context: t.v3.context ?? '' },
      );
    } else {
      s = snmp.createSession(t.address, t.community ?? 'public', {
        ...options,
        version: t.version === '1' ? snmp.Version1 : snmp.Version2c,
      });
    }
    // A socket error (ICMP port unreachable) must not crash the daemon: the pending request fails with it.
    s.on('error', () => {});
    this.session = s;
    return s;
  }

  private request<T>(fn: (s: Session, cb: (e: Error | null, vbs: T) => void) => void): Promise<T> {
    const s = this.open();
    this.requests++;
    return new Promise((resolve, reject) => {
      try {
        fn(s, (err, vbs) => (err ? reject(mapError(err, this.target)) : resolve(vbs)));
      } catch (e) {
        reject(mapError(e as Error, this.target));
      }
    });
  }

  private convertAll(vbs: NetSnmpVarbind[]): SnmpVar[] {
    try {
      return vbs.map(convert);
    } catch (e) {
      throw new CollectorError('malformed', `unreadable varbind from ${this.target.address}`, { cause: e });
    }
  }

  async get(oids: readonly string[]): Promise<SnmpVar[]> {
    return this.convertAll(await this.request<NetSnmpVarbind[]>((s, cb) => s.get([...oids], cb)));
  }

  /** One raw column group per requested OID: GETBULK on v2c/v3, GETNEXT (one row) on v1. */
  private async nextRows(oids: string[], maxRep: number): Promise<NetSnmpVarbind[][]> {
    if (this.target.version === '1') {
      const vbs = await this.request<NetSnmpVarbind[]>((s, cb) => s.getNext(oids, cb)).catch(
        (e: CollectorError) => {
          // v1 signals the end of the MIB as noSuchName; treat it as the end of these columns.
          if (e.kind === 'malformed') return [] as NetSnmpVarbind[];
          throw e;
        },
      );
      return oids.map((_, i) => (vbs[i] ? [vbs[i]] : []));
    }
    const groups = await this.request<NetSnmpVarbind[][]>((s, cb) =>
      s.getBulk(oids, 0, maxRep, cb as unknown as (e: Error | null, v: NetSnmpVarbind[]) => void),
    );
    return oids.map((_, i) => groups[i] ?? []);
  }

  /**
   * Reads whole table columns at once: one GETBULK (GETNEXT on v1) carries every column, and the
   * walk stops per column as soon as it leaves its subtree. Varbinds past a column's end are
   * dropped by their OID text before any parsing: a bulk reply is mostly rows of other columns.
   */
  async walkColumns(columns: readonly string[]): Promise<Map<string, SnmpVar[]>> {
    const out = new Map<string, SnmpVar[]>(columns.map((c) => [c, []]));
    let cursor: Array<{ root: Oid; prefix: string; key: string; at: string }> = columns.map((c) => {
      const root = parseOid(c);
      return { root, prefix: `${oidString(root)}.`, key: c, at: oidString(root) };
    });
    const cap = this.target.maxRepetitions ?? 20;
    // A table's size rarely changes between polls: ask for one row more than last time (the extra
    // row shows the end), so the agent does not encode, nor we decode, rows of neighbouring columns.
    const hints = columns.map((c) => this.rowHint.get(c));
    let maxRep = hints.every((h) => h !== undefined) ? Math.min(cap, Math.max(...hints) + 1) : cap;
    for (let guard = 0; cursor.length > 0 && guard < 10_000; guard++) {
      const groups = await this.nextRows(
        cursor.map((c) => c.at),
        maxRep,
      );
      maxRep = cap;
      const next: typeof cursor = [];
      cursor.forEach((col, c) => {
        const inside: NetSnmpVarbind[] = [];
        let ended = false;
        for (const vb of groups[c] ?? []) {
          const o = vb.oid;
          const under = o.startsWith(col.prefix) || (o.charCodeAt(0) === 46 && o.startsWith(col.prefix, 1));
          if (vb.type >= NO_SUCH_OBJECT || !under) {
            ended = true;
            break;
          }
          inside.push(vb);
        }
        let last: SnmpVar | undefined;
        for (const v of this.convertAll(inside)) {
          // An agent that answers out of order would loop forever: stop this column instead.
          if (!isUnder(v.oid, col.root) || (last && compareOid(v.oid, last.oid) <= 0)) return;
          out.get(col.key)!.push(v);
          last = v;
        }
        if (last && !ended) next.push({ ...col, at: oidString(last.oid) });
      });
      cursor = next;
    }
    for (const [c, rows] of out) this.rowHint.set(c, rows.length);
    return out;
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }
}
