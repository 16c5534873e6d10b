// One poll of one ONVIF camera: is it there, does it accept our credentials, who is it, what time
// does it think it is, and where are its streams and snapshots.
//
//   1. GetSystemDateAndTime without credentials (the ONVIF core spec allows it) → clock offset.
//   2. GetDeviceInformation, signed with that offset → identity; the first authenticated call.
//   3. GetCapabilities (GetServices when that fails) → the media service's address.
//   4. GetProfiles → profiles; GetStreamUri for the smallest (sub-stream) and largest (main);
//      GetSnapshotUri.
//
// A failure before step 2 decides the state (Unreachable / Reachable); an authentication failure at
// step 2 is UpWithoutAuth with the clock still reported; a failure after step 2 keeps UpWithAuth and
// says what could not be read.

import type { OnvifState } from '@pantau/contract';
import { CollectorError } from '../common/errors.js';
import { OnvifError } from './http.js';
import { NS, OnvifClient, type OnvifTarget } from './soap.js';
import { child, children, findDeep, path, textAt, type XmlElement } from './xml.js';

/**
 * UpWithAuth: answers ONVIF and accepts our credentials. UpWithoutAuth: answers ONVIF but refuses
 * the credentials. Reachable: the TCP port is open but no valid ONVIF answer came. Unreachable: no
 * TCP connection. (The contract owns the type; the camera's device state carries it.)
 */
export type { OnvifState };

export interface OnvifIdentity {
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  hardware_id: string;
}

export interface OnvifClock {
  /** The camera's UTC clock at the moment of our reading (ms since epoch). */
  camera_utc_ms: number;
  /** Camera clock minus ours, in ms (positive: the camera is ahead). About ±0.5 s resolution. */
  offset_ms: number;
  /** POSIX TZ string the camera reports, e.g. "WITA-8". */
  timezone?: string;
  /** True when the camera says it follows NTP, false for a manually set clock. */
  ntp?: boolean;
}

export interface OnvifProfile {
  token: string;
  name: string;
  encoding: string;
  width: number;
  height: number;
  fps?: number;
  bitrate_kbps?: number;
}

export interface OnvifResult {
  state: OnvifState;
  identity?: OnvifIdentity;
  clock?: OnvifClock;
  profiles: OnvifProfile[];
  /** The stream to watch: the sub-stream (the profile with the smallest resolution). */
  streamUri?: string;
  /** The profile with the largest resolution. */
  mainStreamUri?: string;
  snapshotUri?: string;
  /** Media service address actually used (host rewritten to the target when the camera named another). */
  mediaXAddr?: string;
  /** Which credential mechanism the camera accepted. */
  auth?: 'wsse' | 'digest' | 'basic';
  /** Why the state is not UpWithAuth, or what could not be read although it is. */
  error?: { kind: CollectorError['kind']; message: string };
  elapsed_ms: number;
}

export interface CollectTarget extends OnvifTarget {
  username: string;
  password: string;
  timeoutMs: number;
}

const errorOf = (e: unknown): { kind: CollectorError['kind']; message: string } =>
  e instanceof CollectorError
    ? { kind: e.kind, message: e.message }
    : { kind: 'malformed', message: e instanceof Error ? e.message : String(e) };

const numberAt = (el: XmlElement | undefined, ...names: string[]): number | undefined => {
  const t = textAt(el, ...names);
  if (t === undefined || t === '') return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
};

/** Reads a tt:DateTime (Date + Time elements) as UTC ms, or undefined when incomplete. */
export function parseOnvifDateTime(el: XmlElement | undefined): number | undefined {
  const y = numberAt(el, 'Date', 'Year');
  const mo = numberAt(el, 'Date', 'Month');
  const d = numberAt(el, 'Date', 'Day');
  const h = numberAt(el, 'Time', 'Hour');
  const mi = numberAt(el, 'Time', 'Minute');
  const s = numberAt(el, 'Time', 'Second');
  if ([y, mo, d, h, mi, s].some((v) => v === undefined)) return undefined;
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * GetSystemDateAndTime without credentials; the offset is the camera's clock against the middle of
 * our request (its seconds are truncated, so half a second is added back). Falls back to a signed
 * request for cameras that insist on credentials even here.
 */
export async function readClock(client: OnvifClient): Promise<OnvifClock> {
  const ask = async (auth: boolean) => {
    const t0 = client.now();
    const answer = await client.call('GetSystemDateAndTime', '<tds:GetSystemDateAndTime/>', { auth });
    return { answer, mid: (t0 + client.now()) / 2 };
  };
  let got: { answer: XmlElement; mid: number };
  try {
    got = await ask(false);
  } catch (e) {
    if (!(e instanceof OnvifError && e.kind === 'auth' && client.hasCredentials)) throw e;
    got = await ask(true);
  }
  const sdt = findDeep(got.answer, 'SystemDateAndTime');
  if (!sdt) throw new OnvifError('malformed', 'GetSystemDateAndTime answer has no SystemDateAndTime', true);
  const utc = parseOnvifDateTime(child(sdt, 'UTCDateTime'));
  if (utc === undefined)
    throw new OnvifError('malformed', 'GetSystemDateAndTime answer has no UTCDateTime', true);
  const camera = utc + 500;
  const clock: OnvifClock = { camera_utc_ms: camera, offset_ms: Math.round(camera - got.mid) };
  const tz = textAt(sdt, 'TimeZone', 'TZ');
  if (tz) clock.timezone = tz;
  const type = textAt(sdt, 'DateTimeType');
  if (type === 'NTP') clock.ntp = true;
  else if (type === 'Manual') clock.ntp = false;
  return clock;
}

/** Replaces host and port of a camera-reported service address with the ones we reach it at. */
export function rewriteXAddr(xaddr: string, device: URL): string {
  let u: URL;
  try {
    u = new URL(xaddr.trim());
  } catch {
    return device.href;
  }
  if (u.host !== device.host || u.protocol !== device.protocol) {
    u.protocol = device.protocol;
    u.host = device.host;
  }
  return u.href;
}

/** The media service address from GetCapabilities, else GetServices, else the device service. */
async function mediaService(client: OnvifClient): Promise<URL> {
  let xaddr: string | undefined;
  try {
    const caps = await client.call(
      'GetCapabilities',
      '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>',
    );
    xaddr = textAt(findDeep(caps, 'Capabilities'), 'Media', 'XAddr');
  } catch (e) {
    if (e instanceof OnvifError && e.kind !== 'unsupported') throw e;
  }
  if (!xaddr) {
    try {
      const svcs = await client.call(
        'GetServices',
        '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>',
      );
      const media = children(svcs, 'Service').find((s) => textAt(s, 'Namespace') === NS.trt);
      xaddr = textAt(media, 'XAddr');
    } catch (e) {
      if (e instanceof OnvifError && e.kind !== 'unsupported') throw e;
    }
  }
  return new URL(xaddr ? rewriteXAddr(xaddr, client.deviceUrl) : client.deviceUrl.href);
}

export function parseProfiles(answer: XmlElement): OnvifProfile[] {
  const out: OnvifProfile[] = [];
  for (const p of children(answer, 'Profiles')) {
    const vec = child(p, 'VideoEncoderConfiguration');
    const profile: OnvifProfile = {
      token: p.attrs.token ?? '',
      name: textAt(p, 'Name') ?? '',
      encoding: textAt(vec, 'Encoding') ?? '',
      width: numberAt(vec, 'Resolution', 'Width') ?? 0,
      height: numberAt(vec, 'Resolution', 'Height') ?? 0,
    };
    const fps = numberAt(vec, 'RateControl', 'FrameRateLimit');
    if (fps !== undefined) profile.fps = fps;
    const kbps = numberAt(vec, 'RateControl', 'BitrateLimit');
    if (kbps !== undefined) profile.bitrate_kbps = kbps;
    // Profiles without a video encoder (audio-only, metadata) have nothing to watch.
    if (vec) out.push(profile);
  }
  return out;
}

const pixels = (p: OnvifProfile) => p.width * p.height;

async function streamUri(client: OnvifClient, media: URL, token: string): Promise<string | undefined> {
  const a = await client.call(
    'GetStreamUri',
    '<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>' +
      `<tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>${escapeToken(token)}` +
      '</trt:ProfileToken></trt:GetStreamUri>',
    { url: media, ns: NS.trt },
  );
  return textAt(path(a, 'MediaUri'), 'Uri') || undefined;
}

const escapeToken = (t: string) =>
  t.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));

/** Polls one camera. Never throws for a camera's behaviour: the state and `error` say what happened. */
export async function collectOnvif(target: CollectTarget): Promise<OnvifResult> {
  const started = Date.now();
  const result: OnvifResult = { state: 'Unreachable', profiles: [], elapsed_ms: 0 };
  let client: OnvifClient;
  try {
    client = new OnvifClient(target);
  } catch (e) {
    result.error = { kind: 'unsupported', message: `not a usable camera address: ${errorOf(e).message}` };
    return result;
  }
  const done = () => {
    client.close();
    result.elapsed_ms = Date.now() - started;
    if (client.authUsed && result.state === 'UpWithAuth') result.auth = client.authUsed;
    return result;
  };

  // 1. Clock, unauthenticated.
  try {
    result.clock = await readClock(client);
    client.offsetMs = result.clock.offset_ms;
  } catch (e) {
    result.error = errorOf(e);
    if (e instanceof OnvifError && e.kind === 'auth') {
      result.state = 'UpWithoutAuth';
    } else {
      result.state = e instanceof OnvifError && !e.connected ? 'Unreachable' : 'Reachable';
    }
    return done();
  }

  // 2. Identity: the first call that needs credentials.
  try {
    const info = await client.call('GetDeviceInformation', '<tds:GetDeviceInformation/>');
    result.identity = {
      manufacturer: textAt(info, 'Manufacturer') ?? '',
      model: textAt(info, 'Model') ?? '',
      firmware: textAt(info, 'FirmwareVersion') ?? '',
      serial: textAt(info, 'SerialNumber') ?? '',
      hardware_id: textAt(info, 'HardwareId') ?? '',
    };
  } catch (e) {
    result.error = errorOf(e);
    if (e instanceof OnvifError && e.kind === 'auth') result.state = 'UpWithoutAuth';
    else result.state = e instanceof OnvifError && !e.connected ? 'Unreachable' : 'Reachable';
    return done();
  }
  result.state = 'UpWithAuth';

  // 3–4. Media: partial failures are reported, the state stays.
  try {
    const media = await mediaService(client);
    result.mediaXAddr = media.href;
    result.profiles = parseProfiles(
      await client.call('GetProfiles', '<trt:GetProfiles/>', { url: media, ns: NS.trt }),
    );
    if (result.profiles.length > 0) {
      const bySize = [...result.profiles].sort((a, b) => pixels(a) - pixels(b));
      const sub = bySize[0]!;
      const main = bySize[bySize.length - 1]!;
      const subUri = await streamUri(client, media, sub.token);
      if (subUri) result.streamUri = subUri;
      const mainUri = main.token === sub.token ? subUri : await streamUri(client, media, main.token);
      if (mainUri) result.mainStreamUri = mainUri;
      try {
        const snap = await client.call(
          'GetSnapshotUri',
          `<trt:GetSnapshotUri><trt:ProfileToken>${escapeToken(sub.token)}</trt:ProfileToken></trt:GetSnapshotUri>`,
          { url: media, ns: NS.trt },
        );
        const uri = textAt(path(snap, 'MediaUri'), 'Uri');
        if (uri) result.snapshotUri = uri;
      } catch (e) {
        // Many cameras have no snapshot service; a fault here is an answer, not a failure.
        if (!(e instanceof OnvifError && e.kind === 'unsupported')) throw e;
      }
    }
  } catch (e) {
    result.error = errorOf(e);
  }
  return done();
}

export interface ClockSetResult {
  /** Offset before the change (camera minus ours, ms). */
  previous_offset_ms: number;
  /** Offset read back after the change. */
  offset_ms: number;
  clock: OnvifClock;
}

/**
 * Sets the camera's clock (manual, UTC) to `date`, then reads it back. The request is signed with
 * the camera's current offset, so this works on exactly the cameras that need it. Throws
 * OnvifError (a CollectorError) when the camera is unreachable or refuses.
 */
export async function setCameraClock(
  target: CollectTarget,
  date: Date = new Date(),
): Promise<ClockSetResult> {
  const client = new OnvifClient(target);
  try {
    const before = await readClock(client);
    client.offsetMs = before.offset_ms;
    // Seconds are whole on the wire; round to the nearest one.
    const d = new Date(Math.round(date.getTime() / 1000) * 1000);
    await client.call(
      'SetSystemDateAndTime',
      '<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>' +
        '<tds:DaylightSavings>false</tds:DaylightSavings><tds:UTCDateTime>' +
        `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute>` +
        `<tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
        `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month>` +
        `<tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tds:UTCDateTime></tds:SetSystemDateAndTime>`,
    );
    const after = await readClock(client);
    return { previous_offset_ms: before.offset_ms, offset_ms: after.offset_ms, clock: after };
  } finally {
    client.close();
  }
}
