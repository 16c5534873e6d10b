// A small SOAP 1.2 client for ONVIF: one object per camera and poll, no global state. Requests are
// signed with WS-Security using the camera's own clock (local time + measured offset); a camera
// that wants HTTP Digest instead gets it when it challenges. Answers are parsed by local names, so
// whatever prefixes a camera's firmware uses do not matter.

import http from 'node:http';
import { securityHeader, usernameToken } from './auth.js';
import { type Credentials, HttpAuthState, httpRequestWithAuth, OnvifError } from './http.js';
import { child, children, parseXml, textAt, type XmlElement, XmlError } from './xml.js';

export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
} as const;

/** How to reach one camera's device service. */
export interface OnvifTarget {
  address: string;
  /** Default 80. */
  port?: number;
  /** Default '/onvif/device_service'. */
  path?: string;
  username?: string;
  password?: string;
  /** Deadline for each SOAP exchange. Default 5000. */
  timeoutMs?: number;
  /** Use https for the device service. */
  https?: boolean;
  /** Aborts whatever is in flight (the scheduler's own deadline). */
  signal?: AbortSignal;
}

/** Largest SOAP answer we read: GetProfiles of a busy NVR is tens of kB, never megabytes. */
const MAX_SOAP_BYTES = 2 * 1024 * 1024;

export function deviceServiceUrl(t: OnvifTarget): URL {
  const host = t.address.includes(':') && !t.address.startsWith('[') ? `[${t.address}]` : t.address;
  return new URL(
    `${t.https ? 'https' : 'http'}://${host}:${t.port ?? 80}${t.path ?? '/onvif/device_service'}`,
  );
}

export interface SoapFault {
  code: string;
  subcodes: string[];
  reason: string;
}

/** Reads a SOAP 1.2 (or 1.1) Fault element. */
export function parseFault(fault: XmlElement): SoapFault {
  const codeEl = child(fault, 'Code');
  const subcodes: string[] = [];
  let code = '';
  if (codeEl) {
    code = textAt(codeEl, 'Value') ?? '';
    let sub = child(codeEl, 'Subcode');
    while (sub) {
      const v = textAt(sub, 'Value');
      if (v) subcodes.push(v);
      sub = child(sub, 'Subcode');
    }
  } else {
    code = textAt(fault, 'faultcode') ?? '';
  }
  const reasonEl = child(fault, 'Reason');
  const reason = reasonEl
    ? children(reasonEl, 'Text')
        .map((t) => t.text.trim())
        .join(' ')
    : (textAt(fault, 'faultstring') ?? '');
  return { code, subcodes, reason };
}

const localPart = (q: string) => q.slice(q.indexOf(':') + 1);

function isAuthFault(f: SoapFault): boolean {
  if (f.subcodes.some((s) => /^(NotAuthorized|FailedAuthentication|InvalidSecurity)$/i.test(localPart(s))))
    return true;
  return /not\s*authori[sz]ed|unauthori[sz]ed|authentication|authority failure/i.test(f.reason);
}

/** Parses a SOAP envelope and returns its Body's first element (the answer), or throws OnvifError. */
export function parseSoapAnswer(xml: Buffer | string, where: string, status = 200): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    const why = e instanceof XmlError ? e.message : String(e);
    const statusNote = status === 200 ? '' : `HTTP ${status}, `;
    throw new OnvifError('malformed', `${where} did not answer SOAP (${statusNote}not XML: ${why})`, true, {
      status,
    });
  }
  if (root.name !== 'Envelope') {
    throw new OnvifError(
      'malformed',
      `${where} answered <${root.name}>, not a SOAP Envelope (HTTP ${status})`,
      true,
      {
        status,
      },
    );
  }
  const body = child(root, 'Body');
  const answer = body?.children[0];
  if (!answer)
    throw new OnvifError('malformed', `${where} answered an empty SOAP Body (HTTP ${status})`, true);
  if (answer.name === 'Fault') {
    const f = parseFault(answer);
    const what = [f.code, ...f.subcodes].filter(Boolean).join(' / ');
    const detail = {
      status,
      faultCode: f.code,
      ...(f.subcodes[0] ? { faultSubcode: f.subcodes.at(-1)! } : {}),
    };
    if (isAuthFault(f)) {
      throw new OnvifError(
        'auth',
        `${where} refused the credentials (SOAP fault ${what}: ${f.reason})`,
        true,
        detail,
      );
    }
    throw new OnvifError('unsupported', `${where} answered SOAP fault ${what}: ${f.reason}`, true, detail);
  }
  return answer;
}

export interface CallOptions {
  /** Service URL (device service by default). */
  url?: URL;
  /** Sign the request (default true when credentials are set). */
  auth?: boolean;
  /** Namespace of the request element (default the device service). */
  ns?: string;
}

/**
 * One camera's SOAP client. `offsetMs` is the camera's clock minus ours; every signed request says
 * `Created = now + offsetMs`, which is what lets a camera with a wrong clock accept us.
 */
export class OnvifClient {
  readonly deviceUrl: URL;
  readonly timeoutMs: number;
  offsetMs: number;
  /** Which credential mechanism the camera accepted last: WS-Security, HTTP Digest/Basic. */
  authUsed: 'wsse' | 'digest' | 'basic' | undefined;
  private readonly creds: Credentials | undefined;
  private readonly httpAuth = new HttpAuthState();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly signal: AbortSignal | undefined;
  /** False once the camera showed it accepts HTTP Digest but not our WS-Security header. */
  private wsse = true;
  /** Current time source, for tests. */
  now: () => number = Date.now;

  constructor(target: OnvifTarget, opts: { offsetMs?: number } = {}) {
    this.deviceUrl = deviceServiceUrl(target);
    this.timeoutMs = target.timeoutMs ?? 5000;
    this.offsetMs = opts.offsetMs ?? 0;
    this.signal = target.signal;
    this.creds =
      target.username !== undefined && target.username !== ''
        ? { username: target.username, password: target.password ?? '' }
        : undefined;
  }

  get hasCredentials(): boolean {
    return this.creds !== undefined;
  }

  /** The SOAP envelope for a request body, signed when asked to. */
  envelope(inner: string, sign: boolean): string {
    const header =
      sign && this.creds && this.wsse
        ? `<s:Header>${securityHeader(usernameToken(this.creds.username, this.creds.password, this.offsetMs, this.now()))}</s:Header>`
        : '';
    return (
      `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap}" xmlns:tds="${NS.tds}" ` +
      `xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}">${header}<s:Body>${inner}</s:Body></s:Envelope>`
    );
  }

  /**
   * Calls one operation. `inner` is the request element (e.g. `<tds:GetDeviceInformation/>`);
   * `action` its name, for the SOAP action parameter. Returns the answer element.
   */
  async call(action: string, inner: string, o: CallOptions = {}): Promise<XmlElement> {
    const sign = (o.auth ?? true) && this.creds !== undefined;
    const url = o.url ?? this.deviceUrl;
    try {
      return await this.exchange(action, inner, url, sign, o.ns ?? NS.tds);
    } catch (e) {
      // A camera that accepts HTTP Digest may still refuse a WS-Security header it cannot check (a
      // wrong clock past its tolerance, or WS-Security switched off): try once without it, which
      // lets the camera challenge for Digest.
      if (sign && this.wsse && e instanceof OnvifError && e.kind === 'auth' && !this.httpAuth.scheme) {
        this.wsse = false;
        try {
          return await this.exchange(action, inner, url, sign, o.ns ?? NS.tds);
        } catch (e2) {
          if (!this.httpAuth.scheme) this.wsse = true;
          if (e2 instanceof OnvifError && e2.kind === 'auth') throw e;
          throw e2;
        }
      }
      throw e;
    }
  }

  private async exchange(
    action: string,
    inner: string,
    url: URL,
    sign: boolean,
    ns: string,
  ): Promise<XmlElement> {
    const where = `${url.host}${url.pathname}`;
    const res = await httpRequestWithAuth(
      {
        url,
        method: 'POST',
        headers: { 'Content-Type': `application/soap+xml; charset=utf-8; action="${ns}/${action}"` },
        body: this.envelope(inner, sign),
        timeoutMs: this.timeoutMs,
        maxBytes: MAX_SOAP_BYTES,
        agent: this.agent,
        ...(this.signal ? { signal: this.signal } : {}),
      },
      sign ? this.creds : undefined,
      this.httpAuth,
    );
    if (res.status === 401) {
      // A SOAP fault in a 401 body says more than the status; otherwise the status says it all.
      const ct = String(res.headers['content-type'] ?? '');
      if (/xml/i.test(ct)) parseSoapAnswer(res.body, where, res.status);
      throw new OnvifError(
        'auth',
        res.authSent
          ? `${where} refused the credentials (HTTP 401 after ${this.httpAuth.scheme ?? 'credentials'})`
          : `${where} wants credentials (HTTP 401) and none are configured`,
        true,
        { status: 401 },
      );
    }
    const answer = parseSoapAnswer(res.body, where, res.status);
    if (res.status >= 300) {
      throw new OnvifError('malformed', `${where} answered HTTP ${res.status} with <${answer.name}>`, true, {
        status: res.status,
      });
    }
    if (sign) this.authUsed = res.authSent ? (this.httpAuth.scheme ?? 'digest') : 'wsse';
    return answer;
  }

  /** Releases the kept-alive connection. */
  close(): void {
    this.agent.destroy();
  }
}
