// SNMP sweep: every community × version is asked at once (a silent address then costs one timeout,
// not one per guess), the preferred answer wins, and that one address is then read once by the very
// collector the daemon runs, which picks the vendor profile and reads model and firmware.

import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import type { FoundDevice, FoundKind } from './types.js';

const SYS_DESCR = '1.3.6.1.2.1.1.1.0';
const SYS_OBJECT_ID = '1.3.6.1.2.1.1.2.0';
const SYS_NAME = '1.3.6.1.2.1.1.5.0';

export interface SnmpProbeOptions {
  communities: string[];
  port: number;
  timeoutMs: number;
}

const text = (v: unknown): string | undefined =>
  v === null || v === undefined
    ? undefined
    : Buffer.isBuffer(v)
      ? v.toString('utf8').replace(/\0+$/, '')
      : String(v);

async function firstAnswer(
  address: string,
  o: SnmpProbeOptions,
): Promise<{ version: '1' | '2c'; community: string } | null> {
  const tries = o.communities.flatMap((community) =>
    (['2c', '1'] as const).map((version) => ({ version, community })),
  );
  const answers = await Promise.all(
    tries.map(async (t) => {
      const s = new SnmpSession({
        address,
        port: o.port,
        version: t.version,
        community: t.community,
        timeoutMs: o.timeoutMs,
        retries: 0,
      });
      try {
        const vars = await s.get([SYS_OBJECT_ID]);
        return vars[0] && vars[0].type < 128 ? t : null;
      } catch {
        return null;
      } finally {
        s.close();
      }
    }),
  );
  return answers.find((a) => a !== null) ?? null;
}

/** Looks for an SNMP agent at one address; null when none answers any community. */
export async function probeSnmp(address: string, o: SnmpProbeOptions): Promise<FoundDevice | null> {
  const hit = await firstAnswer(address, o);
  if (!hit) return null;
  const session = new SnmpSession({
    address,
    port: o.port,
    version: hit.version,
    community: hit.community,
    // The classifying poll walks tables: give it more time than the sweep's single GET.
    timeoutMs: Math.max(2000, o.timeoutMs),
    retries: 1,
  });
  try {
    const sys = await session.get([SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]).catch(() => []);
    const name = text(sys[2]?.value);
    const base = {
      address,
      port: o.port,
      via: 'snmp' as const,
      already_configured: false,
      access: { snmp: { version: hit.version, community: hit.community, port: o.port } },
      ...(name ? { name } : {}),
    };
    try {
      const r = await collectSnmp(session, newSnmpMemory());
      const id = r.identity ?? {};
      const kind: FoundKind = r.kind === 'radio' || r.kind === 'power' ? r.kind : 'host';
      return {
        ...base,
        kind,
        ...(id.vendor ? { vendor: id.vendor } : {}),
        ...(id.model ? { model: id.model } : {}),
        ...(id.firmware ? { firmware: id.firmware } : {}),
        ...(id.serial ? { serial: id.serial } : {}),
        ...(id.profile ? { profile: id.profile } : {}),
      };
    } catch (e) {
      return {
        ...base,
        kind: 'host',
        note: {
          id: `Menjawab SNMP tetapi tidak bisa dibaca penuh: ${(e as Error).message}`,
          en: `Answers SNMP but could not be read in full: ${(e as Error).message}`,
        },
      };
    }
  } finally {
    session.close();
  }
}
