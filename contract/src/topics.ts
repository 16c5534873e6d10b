// The MQTT topic tree of contract v1. Every publisher and subscriber builds and parses topics here,
// so a typo in one daemon cannot silently split the tree.

export const TOPIC_ROOT = 'pantau/v1';

/** Lowercase slug: site ids, device ids, operation names. */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Path segments a device id may not take, because they name the site's own topics. */
export const RESERVED_DEVICE_IDS = ['gateway', 'events', 'request', 'response'] as const;

export function isSlug(s: string): boolean {
  return SLUG.test(s);
}

export function isDeviceId(s: string): boolean {
  return isSlug(s) && !(RESERVED_DEVICE_IDS as readonly string[]).includes(s);
}

function slug(kind: string, s: string): string {
  if (!isSlug(s)) throw new TypeError(`${kind} "${s}" is not a lowercase slug (a-z, 0-9, -)`);
  return s;
}

function device(s: string): string {
  if (!isDeviceId(s)) throw new TypeError(`device id "${s}" is not a lowercase slug or is reserved`);
  return s;
}

export const topics = {
  siteRoot: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}`,
  /** Everything one site may publish or receive: the ACL boundary of a site box. */
  siteWildcard: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}/#`,
  all: () => `${TOPIC_ROOT}/#`,
  gatewayState: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}/gateway/state`,
  gatewayHealth: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}/gateway/health`,
  deviceState: (site: string, dev: string) => `${TOPIC_ROOT}/${slug('site', site)}/${device(dev)}/state`,
  deviceTelemetry: (site: string, dev: string) =>
    `${TOPIC_ROOT}/${slug('site', site)}/${device(dev)}/telemetry`,
  deviceThumbnail: (site: string, dev: string) =>
    `${TOPIC_ROOT}/${slug('site', site)}/${device(dev)}/thumbnail`,
  events: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}/events`,
  /** A site's commissioning report (QoS 1, not retained): day-one values the central keeps. */
  commissioning: (site: string) => `${TOPIC_ROOT}/${slug('site', site)}/commissioning`,
  request: (site: string, op: string) => `${TOPIC_ROOT}/${slug('site', site)}/request/${slug('op', op)}`,
  response: (site: string, op: string) => `${TOPIC_ROOT}/${slug('site', site)}/response/${slug('op', op)}`,
} as const;

export type ParsedTopic =
  | { kind: 'gateway-state'; site: string }
  | { kind: 'gateway-health'; site: string }
  | { kind: 'device-state'; site: string; device: string }
  | { kind: 'device-telemetry'; site: string; device: string }
  | { kind: 'device-thumbnail'; site: string; device: string }
  | { kind: 'events'; site: string }
  | { kind: 'commissioning'; site: string }
  | { kind: 'request'; site: string; op: string }
  | { kind: 'response'; site: string; op: string };

/**
 * The broker parses every message's topic twice (ACL, ingest) and a central hears a few topics per
 * device over and over: answers are kept (frozen, shared) for that many topics, then started afresh.
 */
const PARSED_KEPT = 8192;
const parsed = new Map<string, Readonly<ParsedTopic> | null>();

/**
 * Parses a concrete (wildcard-free) v1 topic; returns null for anything outside the contract. The
 * answer is shared between callers and frozen.
 */
export function parseTopic(topic: string): Readonly<ParsedTopic> | null {
  const hit = parsed.get(topic);
  if (hit !== undefined) return hit;
  const t = parseTopicAfresh(topic);
  if (parsed.size >= PARSED_KEPT) parsed.clear();
  parsed.set(topic, t ? Object.freeze(t) : null);
  return t;
}

function parseTopicAfresh(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== 'pantau' || parts[1] !== 'v1') return null;
  const site = parts[2];
  if (site === undefined || !isSlug(site)) return null;
  const a = parts[3];
  const b = parts[4];
  if (parts.length === 4 && a === 'events') return { kind: 'events', site };
  if (parts.length === 4 && a === 'commissioning') return { kind: 'commissioning', site };
  if (parts.length !== 5 || a === undefined || b === undefined) return null;
  if (a === 'gateway') {
    if (b === 'state') return { kind: 'gateway-state', site };
    if (b === 'health') return { kind: 'gateway-health', site };
    return null;
  }
  if (a === 'request' || a === 'response') {
    if (!isSlug(b)) return null;
    return a === 'request' ? { kind: 'request', site, op: b } : { kind: 'response', site, op: b };
  }
  if (!isDeviceId(a)) return null;
  if (b === 'state') return { kind: 'device-state', site, device: a };
  if (b === 'telemetry') return { kind: 'device-telemetry', site, device: a };
  if (b === 'thumbnail') return { kind: 'device-thumbnail', site, device: a };
  return null;
}

/** MQTT topic filter match (+ and #), used by ACLs and by in-process subscribers. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const fp = f[i];
    if (fp === '#') return i < t.length || i === t.length;
    const tp = t[i];
    if (tp === undefined) return false;
    if (fp !== '+' && fp !== tp) return false;
  }
  return f.length === t.length;
}
