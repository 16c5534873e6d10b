// Live updates: the dashboard reads the broker as a read-only account and fans each contract message
// out to the browsers as a server-sent event.

import { randomUUID } from 'node:crypto';
import { mqttServers } from '@pantau/config';
import { decode, encode, parseTopic, type ResponsePayload, TOPIC_ROOT, topics } from '@pantau/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface LiveEvent {
  type: 'gateway-state' | 'gateway-health' | 'device-state' | 'telemetry' | 'event' | 'thumbnail';
  site: string;
  device?: string;
  payload: unknown;
}

export class LiveFeed {
  private client: MqttClient | null = null;
  private readonly listeners = new Set<(e: LiveEvent) => void>();
  private readonly pending = new Map<string, (r: ResponsePayload) => void>();

  constructor(
    private readonly o: {
      urls: string[];
      username: string;
      password: string;
      /** CA, client certificate and key (PEM) for mqtts:// and wss://. */
      tls?: { ca?: string; cert?: string; key?: string; servername?: string };
      log: Logger;
    },
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    // Each reconnection tries the next broker of the list (mqtt.js `servers`).
    const servers = mqttServers(this.o.urls);
    const client = mqtt.connect({
      servers,
      username: this.o.username,
      ...(this.o.password ? { password: this.o.password } : {}),
      ...(this.o.tls ?? {}),
      // mqtt.js insists on a top-level protocol when given a client certificate; each server's own wins.
      ...(this.o.tls?.cert ? { protocol: servers[0]?.protocol } : {}),
      // Never trust an unverified broker, whatever the options above hold.
      rejectUnauthorized: true,
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
      if (t.kind === 'device-thumbnail') {
        // The picture itself stays at the central; browsers are told a new one is there.
        for (const l of this.listeners) l({ type: 'thumbnail', site: t.site, device: t.device, payload: {} });
        return;
      }
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
      else if (t.kind === 'response') {
        const r = payload as unknown as ResponsePayload;
        this.pending.get(r.id)?.(r);
      }
      if (e) for (const l of this.listeners) l(e);
    });
  }

  /**
   * Asks a site box to do something and waits for its answer. Needs a broker account that may send
   * requests (`credentials add-reader --requests`); rejects on timeout or a refused publish.
   */
  request(
    site: string,
    op: string,
    args: Record<string, unknown>,
    timeoutMs = 20_000,
  ): Promise<ResponsePayload> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(new Error('not connected to the broker'));
    const id = randomUUID();
    return new Promise<ResponsePayload>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer from site box "${site}" within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      });
      client.publish(
        topics.request(site, op),
        encode({ v: 1, id, ts: Date.now(), args }),
        { qos: 1 },
        (err) => {
          if (!err) return;
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new Error(`the broker refused the request: ${err.message}`));
        },
      );
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
