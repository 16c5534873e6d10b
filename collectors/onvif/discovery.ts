// WS-Discovery (SOAP over UDP, port 3702) for ONVIF cameras: a Probe for
// dn:NetworkVideoTransmitter sent to the multicast group 239.255.255.250 and/or straight to given
// addresses (unicast works across routed radio links, where multicast does not pass), answers
// collected until the deadline. Each call has its own socket: no shared state between calls.

import { randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { CollectorError } from '../common/errors.js';
import { child, children, parseXml, textAt, type XmlElement } from './xml.js';

export const WS_DISCOVERY_PORT = 3702;
export const WS_DISCOVERY_GROUP = '239.255.255.250';

export interface DiscoverOptions {
  /** How long to collect answers. Default 3000. */
  timeoutMs?: number;
  /** Probe these hosts directly ("10.1.2.3", "10.1.2.3:3702", "[fe80::1]:3702"). */
  addresses?: string[];
  /** UDP port for addresses without one. Default 3702. */
  port?: number;
  /** Also probe the multicast group. Default: only when no addresses are given. */
  multicast?: boolean;
  /** Local address to send from (picks the interface for multicast). */
  bindAddress?: string;
  signal?: AbortSignal;
}

export interface DiscoveredScopes {
  /** onvif://www.onvif.org/name/… (URL-decoded) */
  name?: string;
  hardware?: string;
  location?: string;
  all: string[];
}

export interface DiscoveredDevice {
  /** Address the answer came from. */
  address: string;
  /** The endpoint reference (usually urn:uuid:… — stable across address changes). */
  endpoint: string;
  /** Device service URLs the camera announces. */
  xaddrs: string[];
  types: string[];
  scopes: DiscoveredScopes;
}

export function probeMessage(messageId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ' +
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    `<s:Header><a:MessageID>${messageId}</a:MessageID>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
    '</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>'
  );
}

const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);

function scopeValue(scopes: string[], kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const hit = scopes.find((s) => s.toLowerCase().startsWith(prefix));
  if (hit === undefined) return undefined;
  const raw = hit.slice(prefix.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Reads the ProbeMatch entries of a ProbeMatches message; [] for anything else. */
export function parseProbeMatches(
  xml: Buffer | string,
  from: string,
): { relatesTo?: string; devices: DiscoveredDevice[] } {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch {
    return { devices: [] };
  }
  const relatesTo = textAt(child(root, 'Header'), 'RelatesTo');
  const matches = child(child(root, 'Body'), 'ProbeMatches');
  const devices = children(matches, 'ProbeMatch').map((m) => {
    const all = words(textAt(m, 'Scopes'));
    const scopes: DiscoveredScopes = { all };
    for (const k of ['name', 'hardware', 'location'] as const) {
      const v = scopeValue(all, k);
      if (v !== undefined && v !== '') scopes[k] = v;
    }
    return {
      address: from,
      endpoint: textAt(m, 'EndpointReference', 'Address') ?? '',
      xaddrs: words(textAt(m, 'XAddrs')),
      types: words(textAt(m, 'Types')),
      scopes,
    };
  });
  return { ...(relatesTo !== undefined ? { relatesTo } : {}), devices };
}

function splitHostPort(a: string, defaultPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : defaultPort };
  if (isIPv6(a)) return { host: a, port: defaultPort };
  const m = /^(.*):(\d+)$/.exec(a);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: a, port: defaultPort };
}

/**
 * Probes for ONVIF cameras and returns those that answered before the deadline, one entry per
 * endpoint (answers to the repeated probe are merged).
 */
export async function discover(opts: DiscoverOptions = {}): Promise<DiscoveredDevice[]> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const port = opts.port ?? WS_DISCOVERY_PORT;
  const targets = (opts.addresses ?? []).map((a) => splitHostPort(a, port));
  const multicast = opts.multicast ?? targets.length === 0;
  if (multicast) targets.push({ host: WS_DISCOVERY_GROUP, port: WS_DISCOVERY_PORT });
  const v4 = targets.filter((t) => !isIPv6(t.host));
  const v6 = targets.filter((t) => isIPv6(t.host));

  const messageId = `uuid:${randomUUID()}`;
  const probe = Buffer.from(probeMessage(messageId), 'utf8');
  const found = new Map<string, DiscoveredDevice>();
  const sendErrors: string[] = [];
  let sent = 0;

  const onMessage = (msg: Buffer, rinfo: RemoteInfo) => {
    const { relatesTo, devices } = parseProbeMatches(msg, rinfo.address);
    // An answer to someone else's probe (possible on the multicast port) is not ours.
    if (relatesTo !== undefined && relatesTo !== messageId) return;
    for (const d of devices) {
      const key = d.endpoint || `${d.address}|${d.xaddrs.join(' ')}`;
      const seen = found.get(key);
      if (seen) {
        for (const x of d.xaddrs) if (!seen.xaddrs.includes(x)) seen.xaddrs.push(x);
      } else {
        found.set(key, d);
      }
    }
  };

  const run = (family: 'udp4' | 'udp6', list: { host: string; port: number }[]) =>
    new Promise<void>((resolve) => {
      if (list.length === 0) {
        resolve();
        return;
      }
      const socket = createSocket({ type: family, reuseAddr: true });
      const timers: NodeJS.Timeout[] = [];
      const finish = () => {
        for (const t of timers) clearTimeout(t);
        opts.signal?.removeEventListener('abort', finish);
        try {
          socket.close();
        } catch {
          // already closed
        }
        resolve();
      };
      socket.on('error', (e) => {
        sendErrors.push(e.message);
        finish();
      });
      socket.on('message', onMessage);
      opts.signal?.addEventListener('abort', finish, { once: true });
      const bind =
        opts.bindAddress && isIPv6(opts.bindAddress) === (family === 'udp6') ? opts.bindAddress : undefined;
      socket.bind(0, bind, () => {
        if (family === 'udp4' && multicast) {
          try {
            socket.setMulticastTTL(1);
            if (bind) socket.setMulticastInterface(bind);
          } catch {
            // sending unicast still works
          }
        }
        const sendAll = () => {
          for (const t of list) {
            socket.send(probe, t.port, t.host, (err) => {
              if (err) sendErrors.push(`${t.host}:${t.port}: ${err.message}`);
              else sent++;
            });
          }
        };
        // WS-Discovery repeats a probe once over UDP: a lost datagram should not hide a camera.
        sendAll();
        timers.push(setTimeout(sendAll, Math.min(150, timeoutMs / 4)));
        timers.push(setTimeout(finish, timeoutMs));
      });
    });

  await Promise.all([run('udp4', v4), run('udp6', v6)]);
  if (sent === 0 && sendErrors.length > 0) {
    throw new CollectorError('unreachable', `WS-Discovery probe could not be sent: ${sendErrors.join('; ')}`);
  }
  return [...found.values()];
}
