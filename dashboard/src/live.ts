// Live updates: the dashboard reads the broker as a read-only account and fans each contract message
// out to the browsers as a server-sent event.

import { decode, parseTopic, TOPIC_ROOT } from '@pantau/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface LiveEvent {
  type: 'gateway-state' | 'gateway-health' | 'device-state' | 'telemetry' | 'event';
  site: string;
  device?: string;
  payload: unknown;
}

export class LiveFeed {
  private client: MqttClient | null = null;
  private readonly listeners = new Set<(e: LiveEvent) => void>();

  constructor(private readonly o: { url: string; username: string; password: string; log: Logger }) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const client = mqtt.connect(this.o.url, {
      username: this.o.username,
      password: this.o.password,
      clientId: `pantau-dashboard-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      reconnectPeriod: 3000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('connect', () => {
      this.o.log.info('live feed connected to the broker');
      client.subscribe(`${TOPIC_ROOT}/#`, { qos: 0 });
    });
    client.on('error', (e) => this.o.log.warn({ err: e.message }, 'live feed MQTT error'));
    client.on('message', (topic, body) => {
      const t = parseTopic(topic);
      if (!t || body.length === 0) return;
      let payload: unknown;
      try {
        payload = decode(body);
      } catch {
        return; // the broker's ingest logs malformed payloads; the page only sees good ones
      }
      let e: LiveEvent | null = null;
      if (t.kind === 'gateway-state') e = { type: 'gateway-state', site: t.site, payload };
      else if (t.kind === 'gateway-health') e = { type: 'gateway-health', site: t.site, payload };
      else if (t.kind === 'device-state')
        e = { type: 'device-state', site: t.site, device: t.device, payload };
      else if (t.kind === 'device-telemetry')
        e = { type: 'telemetry', site: t.site, device: t.device, payload };
      else if (t.kind === 'events') e = { type: 'event', site: t.site, payload };
      if (e) for (const l of this.listeners) l(e);
    });
  }

  subscribe(fn: (e: LiveEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    const c = this.client;
    if (c) await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}
