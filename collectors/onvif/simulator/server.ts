// A simulated ONVIF camera: the device and media services over HTTP answering from recorded SOAP
// answers, a snapshot behind HTTP Digest, and a WS-Discovery responder on UDP. It checks
// credentials the way real cameras do: WS-Security UsernameToken with PasswordDigest (and a Created
// time that must be within 5 s of the *camera's* clock, which can be set wrong on purpose), and/or
// HTTP Digest. GetSystemDateAndTime answers without credentials, as the ONVIF core spec requires.

import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PASSWORD_TEXT_TYPE, passwordDigest, verifyDigestAuthorization } from '../auth.js';
import { parseOnvifDateTime } from '../collect.js';
import { WS_DISCOVERY_GROUP } from '../discovery.js';
import { child, findDeep, parseXml, textAt, type XmlElement } from '../xml.js';
import {
  addSubProfile,
  defaultFixturesDir,
  fixtureFor,
  loadFixtures,
  renderClock,
  renderTemplate,
  rewriteAddresses,
  soapFault,
} from './fixtures.js';
import { DEFAULT_SNAPSHOT } from './snapshot.js';

/**
 * normal: a working camera. silent: the port is open but every request gets a plain-text 404 (a web
 * server that is not ONVIF). hang: connections are accepted and never answered. garbage: 200 with
 * a truncated, unparseable SOAP body.
 */
export type SimulatorMode = 'normal' | 'silent' | 'hang' | 'garbage';

export interface OnvifSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  username: string;
  password: string;
  /** Camera clock minus real time. Default 0. */
  clockOffsetMs?: number;
  /** Main stream URI handed out by GetStreamUri, e.g. rtsp://127.0.0.1:8554/moving. */
  rtspBase: string;
  /** Sub-stream URI (profile "sub"); defaults to rtspBase. */
  rtspSubBase?: string;
  /** Add a 640x360 "sub" profile beside the recorded 1920x1080 "main" one. Default true. */
  subProfile?: boolean;
  /** JPEG served at /snapshot.jpg. Default: a small test card. */
  snapshot?: Buffer;
  /** Which credentials the camera accepts. Default 'both'. */
  auth?: 'wsse' | 'digest' | 'both';
  fixturesDir?: string;
  /** Bind a WS-Discovery responder on host:discoveryPort (0 picks one). Off when undefined. */
  discoveryPort?: number;
  /**
   * Also answer probes sent to the WS-Discovery multicast group: binds the wildcard address on
   * discoveryPort (3702 for real clients) and joins 239.255.255.250 on `host`'s interface.
   */
  discoveryMulticast?: boolean;
  /** The name scope announced by discovery (default: the recording's). */
  name?: string;
  mode?: SimulatorMode;
  /** Host (and port) the camera believes it has, as a camera behind NAT reports the wrong one. */
  advertise?: { host: string; port?: number };
  /** How far a WS-Security Created may be from the camera clock. Default 5000 ms. */
  wsseToleranceMs?: number;
}

export interface OnvifSimulator {
  readonly port: number;
  readonly host: string;
  /** Device service URL. */
  readonly url: string;
  /** WS-Discovery UDP port, when the responder runs. */
  readonly discoveryPort: number | undefined;
  /** The discovery endpoint reference (urn:uuid:…). */
  readonly endpoint: string;
  setClockOffset(ms: number): void;
  clockOffsetMs(): number;
  setMode(mode: SimulatorMode): void;
  /** Requests answered, by command (SOAP action element name, "snapshot", "Probe"). */
  readonly requests: Record<string, number>;
  close(): Promise<void>;
}

const REALM = 'Pantau ONVIF simulator';
const MAX_BODY = 256 * 1024;
const SOAP_CT = 'application/soap+xml; charset=utf-8';

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

const equal = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export async function startOnvifSimulator(o: OnvifSimulatorOptions): Promise<OnvifSimulator> {
  const host = o.host ?? '127.0.0.1';
  const fixtures = loadFixtures(o.fixturesDir ?? defaultFixturesDir());
  const authMode = o.auth ?? 'both';
  const tolerance = o.wsseToleranceMs ?? 5000;
  const snapshot = o.snapshot ?? DEFAULT_SNAPSHOT;
  const endpoint = `uuid:${randomUUID()}`;
  let offset = o.clockOffsetMs ?? 0;
  let mode: SimulatorMode = o.mode ?? 'normal';
  let timezone: string | undefined;
  let ntp: boolean | undefined;
  const requests: Record<string, number> = {};
  const count = (k: string) => {
    requests[k] = (requests[k] ?? 0) + 1;
  };
  const cameraNow = () => Date.now() + offset;

  // Nonces we issued for HTTP Digest, and WS-Security nonces already used (replay protection).
  const digestNonces = new Map<string, number>();
  const usedWsseNonces = new Set<string>();
  const newDigestNonce = () => {
    const n = randomBytes(16).toString('hex');
    if (digestNonces.size > 10_000) digestNonces.clear();
    digestNonces.set(n, Date.now());
    return n;
  };
  const digestOk = (req: IncomingMessage) => {
    const v = verifyDigestAuthorization(req.headers.authorization, {
      username: o.username,
      password: o.password,
      realm: REALM,
      method: req.method ?? 'GET',
    });
    return v.ok && v.nonce !== undefined && digestNonces.has(v.nonce);
  };
  const challenge = (res: ServerResponse, body = 'Unauthorized\n', ct = 'text/plain') => {
    res.writeHead(401, {
      'WWW-Authenticate': `Digest realm="${REALM}", qop="auth", nonce="${newDigestNonce()}", algorithm=MD5`,
      'Content-Type': ct,
    });
    res.end(body);
  };

  /** Checks a WS-Security header; returns why it fails, or undefined when it is good. */
  const wsseProblem = (envelope: XmlElement): string | undefined => {
    const token = findDeep(child(envelope, 'Header'), 'UsernameToken');
    if (!token) return 'no WS-Security UsernameToken';
    const username = textAt(token, 'Username') ?? '';
    const pw = child(token, 'Password');
    const created = textAt(token, 'Created') ?? '';
    const nonce = textAt(token, 'Nonce') ?? '';
    if (!pw) return 'no Password';
    if (username !== o.username) return 'unknown user';
    if (pw.attrs.Type === PASSWORD_TEXT_TYPE)
      return equal(pw.text.trim(), o.password) ? undefined : 'wrong password';
    const createdMs = Date.parse(created);
    if (!Number.isFinite(createdMs)) return 'Created is not a time';
    const skew = createdMs - cameraNow();
    if (Math.abs(skew) > tolerance) {
      return `Created is ${(skew / 1000).toFixed(1)} s away from the camera clock`;
    }
    if (!equal(passwordDigest(Buffer.from(nonce, 'base64'), created, o.password), pw.text.trim())) {
      return 'wrong password digest';
    }
    if (usedWsseNonces.has(nonce)) return 'nonce replayed';
    if (usedWsseNonces.size > 10_000) usedWsseNonces.clear();
    usedWsseNonces.add(nonce);
    return undefined;
  };

  const sockets = new Set<Socket>();
  let actualPort = 0;
  const httpBase = () => `http://${o.advertise?.host ?? host}:${o.advertise?.port ?? actualPort}`;

  const sendSoap = (res: ServerResponse, status: number, xml: string) => {
    res.writeHead(status, { 'Content-Type': SOAP_CT, 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  };

  const answer = (command: string, ns: string, body: XmlElement): { status: number; xml: string } => {
    let xml = fixtureFor(fixtures, command, ns);
    if (xml === undefined) {
      return {
        status: 400,
        xml: soapFault(
          'Sender',
          'ter:ActionNotSupported',
          `The action ${command} is not supported by the device`,
        ),
      };
    }
    xml = renderTemplate(xml, {
      hostname: host,
      port: actualPort,
      pullPointUrl: '/onvif/subscription',
      now: cameraNow,
    });
    switch (command) {
      case 'GetSystemDateAndTime':
        xml = renderClock(xml, cameraNow(), { timezone, ntp });
        break;
      case 'SetSystemDateAndTime': {
        const req = child(body, 'SetSystemDateAndTime') ?? body;
        const type = textAt(req, 'DateTimeType');
        const tz = textAt(req, 'TimeZone', 'TZ');
        if (tz) timezone = tz;
        if (type === 'NTP') {
          ntp = true;
        } else {
          const when = parseOnvifDateTime(child(req, 'UTCDateTime'));
          if (when === undefined) {
            return {
              status: 400,
              xml: soapFault('Sender', 'ter:InvalidArgVal', 'UTCDateTime missing or invalid'),
            };
          }
          ntp = false;
          offset = when - Date.now();
        }
        break;
      }
      case 'GetProfiles':
        if (o.subProfile !== false) xml = addSubProfile(xml);
        break;
      case 'GetStreamUri': {
        const token = textAt(child(body, 'GetStreamUri'), 'ProfileToken');
        const known = o.subProfile !== false ? ['main', 'sub'] : ['main'];
        if (token !== undefined && !known.includes(token)) {
          return { status: 400, xml: soapFault('Sender', 'ter:NoProfile', `no profile ${token}`) };
        }
        const uri = token === 'sub' ? (o.rtspSubBase ?? o.rtspBase) : o.rtspBase;
        return { status: 200, xml: rewriteAddresses(xml, httpBase(), uri, o.advertise?.host ?? host) };
      }
      case 'GetSnapshotUri':
        xml = xml.replace(/(<(?:[\w.-]+:)?Uri>)[^<]*(<)/, `$1${httpBase()}/snapshot.jpg$2`);
        break;
    }
    return { status: 200, xml: rewriteAddresses(xml, httpBase(), o.rtspBase, o.advertise?.host ?? host) };
  };

  const handleSoap = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    if (raw === undefined) {
      sendSoap(res, 413, soapFault('Sender', 'ter:InvalidArgs', 'request too large'));
      return;
    }
    let envelope: XmlElement;
    try {
      envelope = parseXml(raw);
    } catch (e) {
      sendSoap(res, 400, soapFault('Sender', 'ter:WellFormed', `not well-formed: ${(e as Error).message}`));
      return;
    }
    const body = child(envelope, 'Body');
    const action = body?.children[0];
    if (envelope.name !== 'Envelope' || !body || !action) {
      sendSoap(res, 400, soapFault('Sender', 'ter:InvalidArgs', 'no SOAP Body'));
      return;
    }
    const command = action.name;
    count(command);
    if (command !== 'GetSystemDateAndTime') {
      const digest = authMode !== 'wsse' && digestOk(req);
      if (!digest) {
        const hasWsse = findDeep(child(envelope, 'Header'), 'UsernameToken') !== undefined;
        if (authMode === 'digest' || (authMode === 'both' && !hasWsse)) {
          challenge(res);
          return;
        }
        const why = wsseProblem(envelope);
        if (why !== undefined) {
          sendSoap(res, 400, soapFault('Sender', 'ter:NotAuthorized', `Sender not Authorized: ${why}`));
          return;
        }
      }
    }
    const a = answer(command, action.ns, body);
    sendSoap(res, a.status, a.xml);
  };

  const server = createServer((req, res) => {
    if (mode === 'hang') return;
    if (mode === 'silent') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not Found\n');
      return;
    }
    if (mode === 'garbage') {
      req.resume();
      res.writeHead(200, { 'Content-Type': SOAP_CT });
      res.end('<?xml version="1.0"?><SOAP-ENV:Envelope><SOAP-ENV:Body><tds:GetSystemDateAndTimeRes');
      return;
    }
    const url = req.url ?? '/';
    if (req.method === 'GET' && url.split('?')[0] === '/snapshot.jpg') {
      req.resume();
      count('snapshot');
      if (!digestOk(req)) {
        challenge(res);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': snapshot.length });
      res.end(snapshot);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'POST' });
      res.end('ONVIF services take SOAP over POST\n');
      return;
    }
    handleSoap(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendSoap(res, 500, soapFault('Receiver', 'ter:Action', String(e)));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  actualPort = typeof addr === 'object' && addr ? addr.port : 0;
  const deviceUrl = `http://${host}:${actualPort}/onvif/device_service`;

  // WS-Discovery responder.
  let udp: UdpSocket | undefined;
  let discoveryPort: number | undefined;
  if (o.discoveryPort !== undefined) {
    const probeTemplate = fixtures.get('Probe');
    if (!probeTemplate) throw new Error('Probe.xml fixture missing');
    const sock = createSocket({ type: 'udp4', reuseAddr: true });
    udp = sock;
    sock.on('message', (msg, rinfo) => {
      if (mode !== 'normal') return;
      let env: XmlElement;
      try {
        env = parseXml(msg);
      } catch {
        return;
      }
      const probe = child(child(env, 'Body'), 'Probe');
      if (!probe) return;
      const types = textAt(probe, 'Types') ?? '';
      if (types !== '' && !/(^|[\s:])(NetworkVideoTransmitter|Device)(\s|$)/.test(types)) return;
      count('Probe');
      const messageId = textAt(child(env, 'Header'), 'MessageID') ?? '';
      let reply = probeTemplate
        .replace('RELATES_TO', messageId.replace(/[<&]/g, ''))
        .replace('SERVICE_URI', `${httpBase()}/onvif/device_service`)
        .replace(/urn:uuid:01234567-dead-beef-baad-abcdeffedcba/, `urn:uuid:${randomUUID()}`)
        .replace(/uuid:c9790c3a-701b-464d-a189-0060351c8ada/, endpoint);
      if (o.name !== undefined) {
        reply = reply.replace(
          /onvif:\/\/www\.onvif\.org\/name\/[^\s<]*/,
          `onvif://www.onvif.org/name/${encodeURIComponent(o.name)}`,
        );
      }
      sock.send(Buffer.from(reply, 'utf8'), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      // Multicast reaches only a socket bound to the wildcard address (the group is not ours).
      sock.bind(o.discoveryPort, o.discoveryMulticast ? '0.0.0.0' : host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    if (o.discoveryMulticast) {
      // Joined on the simulator's own interface (loopback in tests); unicast probes work regardless.
      sock.addMembership(WS_DISCOVERY_GROUP, host === '0.0.0.0' ? undefined : host);
    }
    discoveryPort = sock.address().port;
  }

  return {
    port: actualPort,
    host,
    url: deviceUrl,
    discoveryPort,
    endpoint,
    requests,
    setClockOffset: (ms: number) => {
      offset = ms;
    },
    clockOffsetMs: () => offset,
    setMode: (m: SimulatorMode) => {
      mode = m;
    },
    close: async () => {
      udp?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
