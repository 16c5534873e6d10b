// ZKTeco attendance terminals on 4370: a short session (CONNECT, device info, DISCONNECT) under the
// same per-terminal lock the daemon uses, since a terminal serves one session at a time.

import { withTerminalLock, ZkClient, ZkError } from '@pantau/collectors/zkteco';
import type { FoundDevice } from './types.js';

export interface ZkProbeOptions {
  port: number;
  timeoutMs: number;
  commKey?: number;
}

async function tryTransport(
  address: string,
  transport: 'tcp' | 'udp',
  o: ZkProbeOptions,
): Promise<FoundDevice | ZkError | null> {
  return withTerminalLock(`${address}:${o.port}`, async () => {
    const client = new ZkClient({
      host: address,
      port: o.port,
      transport,
      timeoutMs: o.timeoutMs,
      ...(o.commKey !== undefined ? { commKey: o.commKey } : {}),
    });
    try {
      await client.connect();
    } catch (e) {
      return e instanceof ZkError ? e : null;
    }
    try {
      const info = await client.deviceInfo();
      return {
        address,
        port: o.port,
        kind: 'terminal',
        vendor: 'ZKTeco',
        model: info.name || info.platform || 'ZKTeco terminal',
        firmware: info.firmware,
        ...(info.serial ? { serial: info.serial } : {}),
        ...(info.name ? { name: info.name } : {}),
        via: 'zk',
        already_configured: false,
        access: { zk: { port: o.port, transport } },
      } satisfies FoundDevice;
    } catch (e) {
      return e instanceof ZkError ? e : null;
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  });
}

/** A terminal at one address, or null. TCP first; UDP only when TCP was refused (older terminals). */
export async function probeZk(address: string, o: ZkProbeOptions): Promise<FoundDevice | null> {
  const tcp = await tryTransport(address, 'tcp', o);
  if (tcp && !(tcp instanceof ZkError)) return tcp;
  if (tcp instanceof ZkError && (tcp.reason === 'auth' || tcp.reason === 'busy'))
    return answeredButClosed(address, o.port, 'tcp', tcp);
  if (!(tcp instanceof ZkError && tcp.reason === 'unreachable')) return null;
  const udp = await tryTransport(address, 'udp', o);
  if (udp && !(udp instanceof ZkError)) return udp;
  if (udp instanceof ZkError && (udp.reason === 'auth' || udp.reason === 'busy'))
    return answeredButClosed(address, o.port, 'udp', udp);
  return null;
}

/** It speaks the terminal protocol but would not tell more: still worth listing, with why. */
function answeredButClosed(address: string, port: number, transport: 'tcp' | 'udp', e: ZkError): FoundDevice {
  return {
    address,
    port,
    kind: 'terminal',
    vendor: 'ZKTeco',
    via: 'zk',
    already_configured: false,
    access: { zk: { port, transport } },
    note:
      e.reason === 'auth'
        ? { id: 'Terminal meminta comm key: isi comm key', en: 'The terminal wants a comm key: give it' }
        : {
            id: 'Terminal sedang melayani sesi lain; coba lagi',
            en: 'The terminal is serving another session; try again',
          },
  };
}
