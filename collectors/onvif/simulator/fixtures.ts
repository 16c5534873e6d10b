// The recorded SOAP answers (test/fixtures/onvif, from the MIT-licensed `onvif` project's camera
// mock-up), loaded once and rendered per request: the recording's little templates filled in, the
// recorded camera address (192.168.68.111) replaced by the simulator's own, stream URIs pointed at
// the local RTSP source, and the clock set to the simulated camera time. The recordings themselves
// are never edited.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const RECORDED_HOST = '192.168.68.111';

/** Finds test/fixtures/onvif above this module (works from the sources and from dist/). */
export function defaultFixturesDir(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'test', 'fixtures', 'onvif');
    if (existsSync(join(candidate, 'GetDeviceInformation.xml'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error('ONVIF fixtures not found: pass fixturesDir (the folder holding GetDeviceInformation.xml)');
}

export function loadFixtures(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.xml')) out.set(f.slice(0, -4), readFileSync(join(dir, f), 'utf8'));
  }
  if (!out.has('GetSystemDateAndTime')) throw new Error(`no ONVIF fixtures in ${dir}`);
  return out;
}

const SERVICE_BY_NS: Record<string, string> = {
  'http://www.onvif.org/ver10/device/wsdl': 'device',
  'http://www.onvif.org/ver10/media/wsdl': 'media',
  'http://www.onvif.org/ver20/ptz/wsdl': 'ptz',
  'http://www.onvif.org/ver20/imaging/wsdl': 'imaging',
  'http://www.onvif.org/ver10/events/wsdl': 'events',
};

/** The recording for a command: `media.GetVideoSources` before `GetVideoSources`. */
export function fixtureFor(fixtures: Map<string, string>, command: string, ns: string): string | undefined {
  const svc = SERVICE_BY_NS[ns];
  return (svc ? fixtures.get(`${svc}.${command}`) : undefined) ?? fixtures.get(command);
}

export interface TemplateContext {
  hostname: string;
  port: number;
  pullPointUrl: string;
  now: () => number;
}

/**
 * Fills the recordings' doT-style templates: `{{? it.bad }}…{{?}}` (the mock-up's way to send a
 * wrong answer: we never do) and `{{=it.hostname}}`-style values.
 */
export function renderTemplate(xml: string, ctx: TemplateContext): string {
  return xml
    .replace(/\{\{\?\s*([^}]*?)\s*\}\}([\s\S]*?)\{\{\?\}\}/g, (_m, cond: string, body: string) =>
      /\bit\.bad\b/.test(cond) ? '' : body,
    )
    .replace(/\{\{=\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
      if (expr === 'it.hostname') return ctx.hostname;
      if (expr === 'it.port') return String(ctx.port);
      if (expr === 'it.pullPointUrl') return ctx.pullPointUrl;
      const later = /Date\.now\(\)\s*\+\s*(\d+)/.exec(expr);
      if (expr.includes('new Date('))
        return new Date(ctx.now() + (later ? Number(later[1]) : 0)).toISOString();
      return '';
    });
}

/** Replaces the recorded camera's HTTP and RTSP addresses. */
export function rewriteAddresses(xml: string, httpBase: string, rtspBase: string, host: string): string {
  const h = RECORDED_HOST.replace(/\./g, '\\.');
  return xml
    .replace(new RegExp(`rtsp://${h}(?::\\d+)?/[^<\\s"]*`, 'g'), rtspBase)
    .replace(new RegExp(`http://${h}(?::\\d+)?`, 'g'), httpBase)
    .replace(new RegExp(h, 'g'), host);
}

/** Replaces the text of every `<prefix:Tag>` with this local name inside `xml`. */
export function setElementText(xml: string, tag: string, value: string): string {
  return xml.replace(
    new RegExp(`(<(?:[\\w.-]+:)?${tag}(?:\\s[^>]*)?>)[^<]*(</(?:[\\w.-]+:)?${tag}>)`, 'g'),
    (_m, open: string, close: string) => `${open}${value}${close}`,
  );
}

/** Sets the UTCDateTime (and LocalDateTime, if recorded) of a GetSystemDateAndTime answer. */
export function renderClock(
  xml: string,
  cameraMs: number,
  opts: { timezone?: string | undefined; ntp?: boolean | undefined } = {},
): string {
  const d = new Date(cameraMs);
  const fill = (section: string) =>
    [
      ['Year', d.getUTCFullYear()],
      ['Month', d.getUTCMonth() + 1],
      ['Day', d.getUTCDate()],
      ['Hour', d.getUTCHours()],
      ['Minute', d.getUTCMinutes()],
      ['Second', d.getUTCSeconds()],
    ].reduce((s, [tag, v]) => setElementText(s, String(tag), String(v)), section);
  let out = xml.replace(/<(?:[\w.-]+:)?(UTCDateTime|LocalDateTime)>[\s\S]*?<\/(?:[\w.-]+:)?\1>/g, (section) =>
    fill(section),
  );
  if (opts.timezone !== undefined) out = setElementText(out, 'TZ', opts.timezone);
  if (opts.ntp !== undefined) out = setElementText(out, 'DateTimeType', opts.ntp ? 'NTP' : 'Manual');
  return out;
}

/**
 * Adds a sub-stream profile to the recorded GetProfiles answer (the recording has only the main
 * stream): the same configuration at 640x360 and 256 kbit/s, token "sub", after the main one.
 */
export function addSubProfile(xml: string): string {
  const m = /<([\w.-]+:)?Profiles\b[\s\S]*?<\/\1?Profiles>/.exec(xml);
  if (!m) return xml;
  let sub = m[0]
    .replace(/token="main"/g, 'token="sub"')
    .replace(/(<(?:[\w.-]+:)?Name>)main(<)/g, '$1sub$2')
    .replace(/Main stream encoder/g, 'Sub stream encoder');
  sub = setElementText(sub, 'Width', '640');
  sub = setElementText(sub, 'Height', '360');
  sub = setElementText(sub, 'BitrateLimit', '256');
  sub = setElementText(sub, 'FrameRateLimit', '10');
  return xml.slice(0, m.index + m[0].length) + sub + xml.slice(m.index + m[0].length);
}

/** A SOAP 1.2 fault in the shape of the recorded Error.xml (whose own prolog and prefixes are broken). */
export function soapFault(code: 'Sender' | 'Receiver', subcode: string, reason: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:ter="http://www.onvif.org/ver10/error">' +
    '<SOAP-ENV:Body><SOAP-ENV:Fault>' +
    `<SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:${code}</SOAP-ENV:Value>` +
    `<SOAP-ENV:Subcode><SOAP-ENV:Value>${subcode}</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>` +
    `<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">${reason.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</SOAP-ENV:Text></SOAP-ENV:Reason>` +
    '</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>'
  );
}
