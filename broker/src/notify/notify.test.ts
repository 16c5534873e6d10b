// Notifications end to end inside one process: incidents made by the real engine from scripted
// radio reports, judged by the notifier, queued in the real SQLite file and delivered to a real
// SMTP sink and a real webhook receiver on 127.0.0.1 (test/support/notify-peers.ts).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '@pantau/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpSink, WebhookReceiver } from '../../../test/support/notify-peers.js';
import { freePort, requireBinary } from '../../../test/support/procs.js';
import { CentralDb, type IncidentRecord } from '../backbone/central-db.js';
import { parseBackbone } from '../backbone/description.js';
import { CentralEngine } from '../backbone/engine.js';
import { loadBrokerConfig } from '../config.js';
import { loadNotifyConfig, type NotifyConfig } from './config.js';
import { Notifier } from './notifier.js';
import { windowOpen } from './rules.js';
import { type Outgoing, send } from './senders.js';

const BACKBONE = `
root: scc
timezone: Asia/Makassar
sites:
  - { id: scc, name: Soppeng Command Center, kecamatan: Lalabata }
  - { id: pasar, name: Pasar Sentral Watansoppeng, kecamatan: Lalabata }
  - { id: rsud, name: RSUD Latemmamala, kecamatan: Lalabata, agency: Dinas Kesehatan, priority: emergency }
  - { id: camat, name: Kantor Camat Ganra, kecamatan: Ganra }
links:
  - { id: scc-pasar, name: SCC–Pasar, medium: radio, a: { site: scc, device: r-scc-pasar }, b: { site: pasar, device: r-pasar } }
  - { id: scc-rsud, name: SCC–RSUD, medium: radio, a: { site: scc, device: r-scc-rsud }, b: { site: rsud, device: r-rsud } }
  - { id: scc-camat, name: SCC–Camat Ganra, medium: radio, a: { site: scc, device: r-scc-camat }, b: { site: camat, device: r-camat } }
`;

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 1, 23, 0, 0); // 07:00 WITA on 2 December
const SECRET = 'webhook-shared-secret-1';
const IP = /\b\d{1,3}(\.\d{1,3}){3}\b/;

class Network {
  now = T0;
  readonly bb = parseBackbone(BACKBONE);
  readonly db: CentralDb;
  readonly engine: CentralEngine;
  notifier!: Notifier;
  private readonly sites = ['scc', 'pasar', 'rsud', 'camat'];
  /** Links whose A-end radio no longer sees its peer. */
  readonly broken = new Set<string>();
  /** Site boxes that went offline (their last will): nothing more comes from them. */
  readonly offline = new Set<string>();

  constructor(
    readonly dir: string,
    readonly cfg: NotifyConfig,
  ) {
    this.db = new CentralDb(join(dir, 'central.db'));
    this.engine = new CentralEngine({ backbone: this.bb, db: this.db, now: () => this.now });
    for (const s of this.sites)
      this.engine.onGatewayState(s, { v: 1, state: 'online', ts: this.now, site: s }, this.now);
    this.openNotifier();
  }

  openNotifier(cfg = this.cfg): void {
    this.notifier = new Notifier({
      cfg,
      backbone: this.bb,
      central: this.db,
      statePath: join(this.dir, 'central.db'),
      now: () => this.now,
    });
  }

  private radio(site: string, device: string, rx: number | undefined): void {
    const values: Reading['values'] = { uptime_s: 86_400 + (this.now - T0) / 1000 };
    if (rx !== undefined)
      Object.assign(values, { rx_power_dbm: rx, noise_floor_dbm: -95, snr_db: rx + 95, mcs_index: 8 });
    this.engine.onTelemetry(
      site,
      { v: 1, seq: 1, device, backfill: false, readings: [{ ts: this.now, values }] },
      this.now,
    );
    this.engine.onDeviceState(
      site,
      {
        v: 1,
        ts: this.now,
        device,
        kind: 'radio',
        address: '10.20.30.40',
        status: 'ok',
        reasons: [],
        last_seen: this.now,
        interval_s: 60,
        figures: {},
      },
      this.now,
    );
  }

  /** One poll of every radio, three samples so the median follows at once. */
  poll(): void {
    for (let i = 0; i < 3; i++) {
      for (const l of this.bb.links.values()) {
        if (!this.offline.has(l.a.site))
          this.radio(l.a.site, l.a.device!, this.broken.has(l.id) ? undefined : -55);
        if (!this.offline.has(l.b.site)) this.radio(l.b.site, l.b.device!, -55);
      }
      this.now += 100;
    }
    for (const s of this.sites) if (!this.offline.has(s)) this.engine.onGatewayHealth(s, this.now);
  }

  /** A site box's last will: the broker says it went offline. */
  siteOffline(site: string): void {
    this.offline.add(site);
    this.engine.onGatewayState(site, { v: 1, state: 'offline', ts: this.now, site }, this.now);
  }

  /** Evaluates and lets the notifier act, as the broker does every evaluate_every_s. */
  async step(ms: number): Promise<void> {
    this.poll();
    this.now += ms - 300;
    this.engine.evaluate(this.now);
    await this.notifier.tick(this.now);
  }

  async minutes(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.step(MIN);
  }

  incidents(key: string): IncidentRecord[] {
    return this.db.incidents({ limit: 1000 }).filter((i) => i.key === key);
  }
}

/** Replacements for the default rules and timing of notifyYaml. */
interface YamlParts {
  rules?: string;
  timing?: string;
  /** More channels, as lines under `channels:`. */
  channels?: string;
}

function notifyYaml(webhookUrl: string, smtpPort: number, extra = '', parts: YamlParts = {}): string {
  return `
channels:
  hook: { type: webhook, url: "${webhookUrl}", secret_file: hook.secret }
  mail: { type: smtp, host: 127.0.0.1, port: ${smtpPort}, from: pantau@soppengkab.go.id, starttls: "off", language: id+en }
${parts.channels ?? ''}
roles:
  noc: { email: [noc@soppengkab.go.id] }
  dinkes: { email: [it@dinkes.soppengkab.go.id] }
rules:
${
  parts.rules ??
  `  - { name: semua, channels: [hook, mail], roles: [noc] }
  - { name: rumah sakit, match: { priority: [emergency] }, channels: [mail], roles: [dinkes] }`
}
timing: ${parts.timing ?? '{ settle_s: 60, clear_s: 300, min_interval_s: 600, repeat_s: 1800 }'}
delivery: { retry_first_s: 30, retry_max_s: 600, give_up_days: 1 }
${extra}`;
}

let dir: string;
let hook: WebhookReceiver;
let smtp: SmtpSink;
let net: Network;

async function setup(extra = '', parts: YamlParts = {}): Promise<void> {
  const file = join(dir, 'notify.yaml');
  writeFileSync(file, notifyYaml(hook.url, smtp.port, extra, parts));
  net = new Network(dir, loadNotifyConfig(file));
  // Commissioned, ten quiet minutes.
  await net.minutes(10);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pantau-notify-'));
  writeFileSync(join(dir, 'hook.secret'), `${SECRET}\n`);
  hook = new WebhookReceiver(await freePort(), SECRET);
  smtp = new SmtpSink(await freePort());
  await hook.start();
  await smtp.start();
});

afterEach(async () => {
  await net?.notifier.close();
  net?.db.close();
  await hook.stop();
  await smtp.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('notifications', () => {
  it('a link down: one signed webhook and one e-mail in Bahasa Indonesia naming the place, then resolved with its duration', async () => {
    await setup();
    expect(hook.hooks).toEqual([]);
    net.broken.add('scc-pasar');
    await net.minutes(12);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1);
    expect(hook.hooks).toHaveLength(1);
    const h = hook.hooks[0]!;
    expect(h.signed).toBe(true);
    expect(h.body).toMatchObject({
      v: 1,
      transition: 'opened',
      incident: { key: 'link:scc-pasar', severity: 'critical' },
    });
    expect(h.body.text).toMatch(/^GANGGUAN: Tautan SCC–Pasar putus/);
    expect(h.body.text).toContain('\nLokasi: Pasar Sentral Watansoppeng (Kec. Lalabata)\n');
    expect(h.body.text).toContain('Sejak 07:11 WITA, 2 Des 2026 (1 menit yang lalu)');
    expect(h.body.text).not.toContain('English');
    expect(h.body.places).toContainEqual({
      site: 'pasar',
      name: 'Pasar Sentral Watansoppeng',
      kecamatan: 'Lalabata',
      priority: 'normal',
    });
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.to).toEqual(['noc@soppengkab.go.id']);
    expect(mail.subject).toBe(
      '[Pantau] GANGGUAN: Tautan SCC–Pasar putus: 1 lokasi di belakangnya tidak terjangkau',
    );
    expect(mail.text).toContain('Tanggapi insiden ini di dasbor Pantau agar pengingat berhenti.');
    // This channel asks for English after the Bahasa Indonesia.
    expect(mail.text).toContain('— English —\nOUTAGE: Link SCC–Pasar is down');
    for (const text of [String(h.body.text), mail.text, mail.subject, JSON.stringify(h.body)])
      expect(text).not.toMatch(IP);

    net.broken.delete('scc-pasar');
    await net.minutes(4);
    expect(hook.hooks).toHaveLength(1); // not cleared long enough yet
    await net.minutes(3);
    expect(hook.hooks.map((x) => x.body.transition)).toEqual(['opened', 'resolved']);
    expect(hook.hooks[1]!.body.text).toMatch(/^PULIH \(sudah normal\): Tautan SCC–Pasar putus/);
    expect(hook.hooks[1]!.body.text).toContain('Berlangsung 12 menit (07:11 WITA – 07:23 WITA, 2 Des 2026)');
    expect(smtp.mails.map((m) => m.subject.split(':')[0])).toEqual([
      '[Pantau] GANGGUAN',
      '[Pantau] PULIH (sudah normal)',
    ]);
    // Each message once: more evaluations add nothing.
    await net.minutes(20);
    expect(hook.hooks).toHaveLength(2);
    expect(smtp.mails).toHaveLength(2);
  });

  it('a flap storm (down and up 20 times in a minute) sends one opened and one resolved, not fifty', async () => {
    await setup();
    for (let i = 0; i < 20; i++) {
      net.broken.add('scc-pasar');
      await net.step(1500);
      net.broken.delete('scc-pasar');
      await net.step(1500);
    }
    const storm = net.incidents('link:scc-pasar');
    expect(storm.length).toBe(20);
    expect(storm.every((i) => i.closed_at !== null)).toBe(true);
    await net.minutes(15);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened', 'resolved']);
    expect(hook.hooks[0]!.body.text).toContain('Terputus-sambung 20 kali sejak 07:10 WITA');
    expect(smtp.mails).toHaveLength(2);
    expect(hook.hooks.every((h) => h.signed)).toBe(true);
  });

  it('a blip shorter than the settle time says nothing', async () => {
    await setup();
    net.broken.add('scc-pasar');
    await net.step(30_000);
    net.broken.delete('scc-pasar');
    await net.minutes(15);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1);
    expect(hook.hooks).toEqual([]);
    expect(smtp.mails).toEqual([]);
  });

  it('retries after the receivers were down, across a restart of the notifier, and delivers once', async () => {
    await setup();
    await hook.stop();
    await smtp.stop();
    net.broken.add('scc-rsud');
    await net.minutes(3);
    const pending = net.notifier.store.rows();
    // Webhook, the NOC's mail and the hospital's agency's mail (the emergency rule).
    expect(pending.map((r) => `${r.channel}:${r.recipient}`).sort()).toEqual([
      'hook:',
      'mail:it@dinkes.soppengkab.go.id',
      'mail:noc@soppengkab.go.id',
    ]);
    expect(pending.every((r) => r.state === 'pending' && r.attempts >= 2 && r.last_error)).toBe(true);
    expect(pending.find((r) => r.channel === 'hook')!.last_error).toContain('ECONNREFUSED');
    // The broker restarts while the receivers are still down; the queue is on disk.
    await net.notifier.close();
    net.openNotifier();
    await hook.start();
    await smtp.start();
    await net.minutes(6);
    expect(hook.hooks).toHaveLength(1);
    expect(hook.hooks[0]!.signed).toBe(true);
    expect(smtp.mails.map((m) => m.to[0]).sort()).toEqual([
      'it@dinkes.soppengkab.go.id',
      'noc@soppengkab.go.id',
    ]);
    expect(smtp.mails[0]!.text).toContain('RSUD Latemmamala (Kec. Lalabata, layanan darurat)');
    expect(net.notifier.store.rows().every((r) => r.state === 'sent')).toBe(true);
    // The delivery id is stable across retries, so a receiver can drop a repeat.
    expect(hook.hooks[0]!.headers['x-pantau-delivery']).toBe(hook.hooks[0]!.body.id);
  });

  it('a channel taken out of notify.yaml across a restart: the others still get resolved, planning goes on', async () => {
    await setup();
    net.broken.add('scc-pasar');
    await net.minutes(3);
    expect(smtp.mails).toHaveLength(1);
    await net.notifier.close();
    const file = join(dir, 'notify.yaml');
    writeFileSync(
      file,
      `channels:\n  hook: { type: webhook, url: "${hook.url}", secret_file: hook.secret }\nrules:\n  - { channels: [hook] }\ntiming: { settle_s: 60, clear_s: 300 }\n`,
    );
    net.openNotifier(loadNotifyConfig(file));
    net.broken.delete('scc-pasar');
    await net.minutes(7);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened', 'resolved']);
    expect(smtp.mails).toHaveLength(1);
  });

  it('a receiver that answers 500 is retried with growing waits; after give_up_days the message is dead', async () => {
    await setup();
    hook.failWith = 500;
    net.broken.add('scc-pasar');
    await net.minutes(2);
    const row = () => net.notifier.store.rows().find((r) => r.channel === 'hook')!;
    expect(row().last_error).toContain('HTTP 500');
    const waits: number[] = [];
    let last = row().next_at;
    for (let i = 0; i < 40 && waits.length < 6; i++) {
      await net.step(30_000);
      if (row().next_at !== last) {
        waits.push(Math.round((row().next_at - net.now) / 1000));
        last = row().next_at;
      }
    }
    // 30 s doubling, capped at retry_max_s (600 s); one evaluation late at most.
    expect(waits.slice(0, 5)).toEqual([60, 120, 240, 480, 600].map((w) => expect.closeTo(w, -2)) as never);
    net.now += 25 * 3600_000;
    await net.step(MIN);
    expect(row().state).toBe('dead');
    expect(hook.hooks).toEqual([]);
  });

  it('a maintenance window keeps the link quiet; still down after it ends, the opened goes out', async () => {
    const start = new Date(T0 + 15 * MIN).toISOString();
    const end = new Date(T0 + 45 * MIN).toISOString();
    await setup(
      `maintenance:\n  - { links: [scc-pasar], start: "${start}", end: "${end}", note: ganti radio }\n`,
    );
    await net.minutes(6);
    // Down and up inside the window: nothing.
    net.broken.add('scc-pasar');
    await net.minutes(10);
    net.broken.delete('scc-pasar');
    await net.minutes(8);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1);
    expect(hook.hooks).toEqual([]);
    // Down again, past the end of the window.
    net.broken.add('scc-pasar');
    await net.minutes(8);
    expect(hook.hooks).toEqual([]);
    await net.minutes(8);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened']);
    // Another link in the same window is not covered by it.
    net.broken.add('scc-camat');
    await net.minutes(3);
    expect(hook.hooks.map((h) => (h.body.incident as { key: string }).key)).toEqual([
      'link:scc-pasar',
      'link:scc-camat',
    ]);
  });

  it('reminds about an unacknowledged critical incident; an acknowledgement from the dashboard stops the reminders', async () => {
    await setup();
    net.broken.add('scc-camat');
    await net.minutes(2);
    await net.minutes(31);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened', 'reminder']);
    expect(hook.hooks[1]!.body.text).toMatch(/^BELUM DITANGGAPI: Tautan SCC–Camat Ganra putus/);
    expect(hook.hooks[1]!.body.text).toContain('Lokasi: Kantor Camat Ganra (Kec. Ganra)');
    const inc = net.incidents('link:scc-camat')[0]!;
    // What POST /api/incidents/ack writes.
    net.db.addIncidentNote({
      key: inc.key,
      opened_at: inc.opened_at,
      at: net.now,
      username: 'operator1',
      kind: 'ack',
      text: '',
    });
    await net.minutes(95);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened', 'reminder']);
  });

  it('a warning that becomes critical sends "worsened" to the rules that only take critical', async () => {
    await setup();
    const inc: IncidentRecord = {
      key: 'link:scc-camat',
      kind: 'link',
      subject: 'scc-camat',
      severity: 'warning',
      title: {
        code: 'interference',
        id: 'Interferensi di ujung B tautan SCC–Camat Ganra',
        en: 'Interference at the B end of SCC–Camat Ganra',
      },
      affected: { sites: [], links: ['scc-camat'], devices: [] },
      opened_at: net.now,
      updated_at: net.now,
      closed_at: null,
    };
    net.db.putIncident(inc);
    net.now += 2 * MIN;
    await net.notifier.tick(net.now);
    expect(hook.hooks.map((h) => h.body.text)).toEqual([expect.stringMatching(/^PERINGATAN: Interferensi/)]);
    net.db.putIncident({ ...inc, severity: 'critical', updated_at: net.now });
    net.now += 11 * MIN;
    await net.notifier.tick(net.now);
    expect(hook.hooks.map((h) => h.body.transition)).toEqual(['opened', 'worsened']);
    expect(hook.hooks[1]!.body.text).toMatch(/^MEMBURUK: Interferensi/);
  });

  it('the daily digest lists links that kept warning but never went down, once a day', async () => {
    await setup(`digest: { time: "07:30", channels: [mail], roles: [noc], min_incidents: 3 }\n`);
    const warn = (link: string, at: number, severity: 'warning' | 'critical' = 'warning') =>
      net.db.putIncident({
        key: `link:${link}`,
        kind: 'link',
        subject: link,
        severity,
        title: { code: 'weather_fade', id: 'melemah', en: 'fading' },
        affected: { sites: [], links: [link], devices: [] },
        opened_at: at,
        updated_at: at + 20 * MIN,
        closed_at: at + 20 * MIN,
      });
    for (let h = 1; h <= 4; h++) warn('scc-camat', T0 - h * 3600_000);
    for (let h = 1; h <= 3; h++) warn('scc-rsud', T0 - h * 3600_000);
    warn('scc-rsud', T0 - 5 * 3600_000, 'critical');
    warn('scc-pasar', T0 - 2 * 3600_000);
    await net.minutes(15); // to 07:25 WITA
    expect(smtp.mails).toEqual([]);
    await net.minutes(10);
    expect(smtp.mails).toHaveLength(1);
    const m = smtp.mails[0]!;
    expect(m.subject).toBe('[Pantau] Ringkasan harian: 1 tautan sering melemah');
    expect(m.text).toContain('Ringkasan harian Pantau, 24 jam sampai 07:30 WITA 2 Des 2026.');
    expect(m.text).toContain('- SCC–Camat Ganra (Kec. Ganra): 4 kali melemah, total 1 jam 20 menit');
    expect(m.text).not.toContain('SCC–RSUD');
    expect(m.text).not.toContain('SCC–Pasar');
    await net.minutes(60);
    expect(smtp.mails).toHaveLength(1);
  });
});

describe('rules: which incidents each criterion takes', () => {
  // One rule, on the webhook only, so every message seen is that rule's doing.
  const only = (match: string) => ({ rules: `  - { name: hanya, match: ${match}, channels: [hook] }` });
  const keys = () =>
    hook.hooks.map((h) => `${(h.body.incident as { key: string }).key} ${h.body.transition}`);

  it('kecamatan (any case): the link to Ganra is told, the link to a Lalabata site is not', async () => {
    await setup('', only('{ kecamatan: [ganra] }'));
    net.broken.add('scc-pasar');
    await net.minutes(3);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1); // the incident is there, only not for this rule
    expect(hook.hooks).toEqual([]);
    net.broken.add('scc-camat');
    await net.minutes(3);
    expect(keys()).toEqual(['link:scc-camat opened']);
    expect(hook.hooks[0]!.body.text).toContain('Kantor Camat Ganra (Kec. Ganra)');
  });

  it('agency: the link to the Dinas Kesehatan hospital is told, the link to the market is not', async () => {
    await setup('', only('{ agency: [dinas kesehatan] }'));
    net.broken.add('scc-pasar');
    await net.minutes(3);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1);
    expect(hook.hooks).toEqual([]);
    net.broken.add('scc-rsud');
    await net.minutes(3);
    expect(keys()).toEqual(['link:scc-rsud opened']);
  });

  it('incident kind: a site box gone offline is told to a "site" rule, a broken link is not', async () => {
    await setup('', only('{ kind: [site] }'));
    net.broken.add('scc-pasar');
    await net.minutes(3);
    expect(net.incidents('link:scc-pasar')).toHaveLength(1);
    expect(hook.hooks).toEqual([]);
    net.siteOffline('camat');
    await net.minutes(3);
    expect(net.incidents('site:camat')).toHaveLength(1);
    expect(keys()).toEqual(['site:camat opened']);
    expect(hook.hooks[0]!.body.incident).toMatchObject({ kind: 'site', subject: 'camat' });
  });
});

describe('min_interval_s on its own', () => {
  // No settle time, no flap grouping, no reminders: only min_interval_s keeps messages apart.
  const timing = { timing: '{ settle_s: 0, clear_s: 0, min_interval_s: 600, repeat_s: 0 }' };
  const transitions = () => hook.hooks.map((h) => h.body.transition);
  const outage = async (down: number, up: number) => {
    net.broken.add('scc-pasar');
    await net.minutes(down);
    net.broken.delete('scc-pasar');
    await net.minutes(up);
  };

  it('a second opening of the same link within the interval is not told; one after it is', async () => {
    await setup('', timing);
    await outage(2, 2);
    expect(transitions()).toEqual(['opened', 'resolved']);
    // Down again 4 minutes after the first message: two incidents, one message.
    await outage(2, 2);
    expect(net.incidents('link:scc-pasar')).toHaveLength(2);
    expect(transitions()).toEqual(['opened', 'resolved']);
    // More than 600 s after the last message: told again.
    await net.minutes(10);
    await outage(2, 2);
    expect(net.incidents('link:scc-pasar')).toHaveLength(3);
    expect(transitions()).toEqual(['opened', 'resolved', 'opened', 'resolved']);
  });

  it('with min_interval_s 0 the same two openings are both told', async () => {
    await setup('', { timing: '{ settle_s: 0, clear_s: 0, min_interval_s: 0, repeat_s: 0 }' });
    await outage(2, 2);
    await outage(2, 2);
    expect(net.incidents('link:scc-pasar')).toHaveLength(2);
    expect(transitions()).toEqual(['opened', 'resolved', 'opened', 'resolved']);
  });
});

/** A WhatsApp-style HTTP gateway and the Telegram bot API on one local port, recording each request. */
async function chatPeer() {
  const got: Array<{ url: string; headers: Record<string, unknown>; body: string }> = [];
  const port = await freePort();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      got.push({ url: req.url ?? '', headers: req.headers, body });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(req.url?.includes('/bot') ? '{"ok":true}' : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('chat channels', () => {
  it('through the rules and the delivery queue: a link down reaches WhatsApp and Telegram once each, in Bahasa Indonesia naming the place; then resolved', async () => {
    const chat = await chatPeer();
    try {
      writeFileSync(join(dir, 'wa.token'), 'wa-token-1\n');
      writeFileSync(join(dir, 'tg.token'), '123:ABC\n');
      await setup('', {
        channels: `  wa: { type: chat_gateway, url: "http://127.0.0.1:${chat.port}/send", headers: { authorization: "Bearer {{token}}" }, token_file: wa.token, body: '{"phone":"{{to}}","message":"{{text}}"}', to: ["6281200000001"] }
  tg: { type: telegram, api_url: "http://127.0.0.1:${chat.port}", token_file: tg.token, chat_ids: ["-100200"] }`,
        rules: '  - { name: chat, channels: [wa, tg] }',
      });
      const wa = () =>
        chat.got.filter((g) => g.url === '/send').map((g) => JSON.parse(g.body) as Record<string, string>);
      const tg = () =>
        chat.got
          .filter((g) => g.url === '/bot123:ABC/sendMessage')
          .map((g) => JSON.parse(g.body) as Record<string, string>);
      expect(chat.got).toEqual([]);
      net.broken.add('scc-pasar');
      await net.minutes(12);
      expect(wa()).toHaveLength(1);
      expect(wa()[0]!.phone).toBe('6281200000001');
      expect(wa()[0]!.message).toMatch(/^GANGGUAN: Tautan SCC–Pasar putus/);
      expect(wa()[0]!.message).toContain('Lokasi: Pasar Sentral Watansoppeng (Kec. Lalabata)');
      expect(wa()[0]!.message).not.toMatch(IP);
      expect(tg()).toHaveLength(1);
      expect(tg()[0]).toMatchObject({ chat_id: '-100200', text: wa()[0]!.message });
      net.broken.delete('scc-pasar');
      await net.minutes(7);
      await net.minutes(20);
      expect(wa().map((m) => String(m.message).split(':')[0])).toEqual(['GANGGUAN', 'PULIH (sudah normal)']);
      expect(tg()).toHaveLength(2);
    } finally {
      await chat.close();
    }
  });

  it('a WhatsApp-style HTTP gateway gets one templated request per recipient; Telegram gets sendMessage', async () => {
    const { port, got, close } = await chatPeer();
    try {
      writeFileSync(join(dir, 'wa.token'), 'wa-token-1\n');
      writeFileSync(join(dir, 'tg.token'), '123:ABC\n');
      const file = join(dir, 'chat.yaml');
      writeFileSync(
        file,
        `channels:
  wa:
    type: chat_gateway
    url: http://127.0.0.1:${port}/send
    headers: { authorization: "Bearer {{token}}" }
    token_file: wa.token
    body: '{"phone":"{{to}}","message":"{{text}}"}'
    to: ["6281200000001"]
  tg: { type: telegram, api_url: "http://127.0.0.1:${port}", token_file: tg.token, chat_ids: ["-100200"] }
rules:
  - { channels: [wa, tg] }
`,
      );
      const cfg = loadNotifyConfig(file);
      const m: Outgoing = {
        id: 'x@1:opened:0',
        subject: 's',
        text: 'GANGGUAN: Tautan "SCC–Pasar" putus\nbaris 2',
        data: {},
      };
      await send(cfg.channels.wa!, '6281200000001', m);
      await send(cfg.channels.tg!, '-100200', m);
      expect(got[0]!.url).toBe('/send');
      expect(got[0]!.headers.authorization).toBe('Bearer wa-token-1');
      expect(JSON.parse(got[0]!.body)).toEqual({ phone: '6281200000001', message: m.text });
      expect(got[1]!.url).toBe('/bot123:ABC/sendMessage');
      expect(JSON.parse(got[1]!.body)).toMatchObject({ chat_id: '-100200', text: m.text });
    } finally {
      await close();
    }
  });
});

describe('notify.yaml errors', () => {
  it('names the file, line and field', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `channels:
  hook: { type: webhook, url: "http://127.0.0.1:1/x", secret_file: hook.secret }
rules:
  - channels: [hook, pager]
    roles: [teknisi]
maintenance:
  - { sites: [rsud], start: "2026-12-05T08:00:00+08:00" }
`,
    );
    expect(() => loadNotifyConfig(file)).toThrowError(
      new RegExp(
        [
          `${file}:4:22: rules\\[0\\]\\.channels\\[1\\]: no channel "pager" in channels`,
          `${file}:5:13: rules\\[0\\]\\.roles\\[0\\]: no role "teknisi" in roles`,
        ].join('[\\s\\S]*'),
      ),
    );
    expect(() => loadNotifyConfig(file)).toThrowError(
      /bad\.yaml:7:\d+: maintenance\[0\]\.end: start and end go together/,
    );
    writeFileSync(
      file,
      'channels:\n  m: { type: smtp, host: relay, from: a@b.go.id, url: "http://x/" }\nrules:\n  - { channels: [m] }\ntiming: { settle_s: -5 }\n',
    );
    expect(() => loadNotifyConfig(file)).toThrowError(/bad\.yaml:5:21: timing\.settle_s: must be >= 0/);
    writeFileSync(
      file,
      'channels:\n  m: { type: smtp, host: relay, from: a@b.go.id, url: "http://x/" }\nrules:\n  - { channels: [m] }\n',
    );
    expect(() => loadNotifyConfig(file)).toThrowError(
      /bad\.yaml:2:\d+: channels\.m\.url: not used by type smtp/,
    );
  });

  it('a rule must reach someone on each of its channels', () => {
    const file = join(dir, 'reach.yaml');
    writeFileSync(join(dir, 'tg.token'), 't\n');
    writeFileSync(
      file,
      `channels:
  mail: { type: smtp, host: relay.intranet, from: pantau@soppengkab.go.id }
  tg: { type: telegram, token_file: tg.token, chat_ids: ["-100"] }
roles:
  pimpinan: { chat: ["62812"] }
rules:
  - { channels: [mail] }
  - { channels: [tg, mail], roles: [pimpinan] }
  - { channels: [tg] }
`,
    );
    let msg = '';
    try {
      loadNotifyConfig(file);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.split('\n').map((l) => l.slice(file.length + 1))).toEqual([
      '7:18: rules[0].channels[0]: channel "mail" has no recipients of its own (to) and no roles are given',
      '8:18: rules[1].channels[0]: roles pimpinan have no telegram addresses for telegram channel "tg"',
      '8:22: rules[1].channels[1]: roles pimpinan have no email addresses for smtp channel "mail"',
    ]);
  });

  it('a missing secret file names its field', () => {
    const file = join(dir, 'nosecret.yaml');
    writeFileSync(
      file,
      'channels:\n  hook: { type: webhook, url: "http://127.0.0.1:1/x", secret_file: none.secret }\nrules:\n  - { channels: [hook] }\n',
    );
    expect(() => loadNotifyConfig(file)).toThrowError(
      /channels\.hook\.secret_file: cannot read .*none\.secret: ENOENT/,
    );
  });
});

describe('maintenance windows', () => {
  const at = (local: string) => Date.parse(`${local}+08:00`);
  it('weekly windows are in the backbone time zone, including one over midnight', () => {
    const w = { sites: ['rsud'], links: [], weekly: { days: ['sat' as const], from: '22:00', to: '02:00' } };
    // 5 December 2026 is a Saturday.
    expect(windowOpen(w, at('2026-12-05T21:59:00'), 'Asia/Makassar')).toBe(false);
    expect(windowOpen(w, at('2026-12-05T22:00:00'), 'Asia/Makassar')).toBe(true);
    expect(windowOpen(w, at('2026-12-06T01:59:00'), 'Asia/Makassar')).toBe(true);
    expect(windowOpen(w, at('2026-12-06T02:00:00'), 'Asia/Makassar')).toBe(false);
    expect(windowOpen(w, at('2026-12-06T22:30:00'), 'Asia/Makassar')).toBe(false);
    // The same instant is 21:30 in Jakarta: outside.
    expect(windowOpen(w, at('2026-12-05T22:30:00'), 'Asia/Jakarta')).toBe(false);
    const day = {
      sites: ['rsud'],
      links: [],
      weekly: { days: ['mon' as const, 'tue' as const], from: '08:00', to: '12:00' },
    };
    expect(windowOpen(day, at('2026-12-07T09:00:00'), 'Asia/Makassar')).toBe(true);
    expect(windowOpen(day, at('2026-12-09T09:00:00'), 'Asia/Makassar')).toBe(false);
  });
});

describe('central.yaml', () => {
  const central = (extra: string) => {
    const f = join(dir, 'central.yaml');
    writeFileSync(
      f,
      `credentials_file: credentials.yaml\nstore: { kind: sqlite, path: readings.db }\n${extra}`,
    );
    return f;
  };
  it('names notify.yaml, which is loaded with its secrets; notify without a backbone is an error', () => {
    writeFileSync(join(dir, 'backbone.yaml'), BACKBONE);
    writeFileSync(join(dir, 'hook.secret'), 's3cret\n');
    writeFileSync(
      join(dir, 'notify.yaml'),
      'channels:\n  hook: { type: webhook, url: "http://127.0.0.1:9/x", secret_file: hook.secret }\nrules:\n  - { channels: [hook] }\n',
    );
    const cfg = loadBrokerConfig(
      central('backbone: { file: backbone.yaml }\nnotify: { file: notify.yaml }\n'),
    );
    expect(cfg.notify!.file).toBe(join(dir, 'notify.yaml'));
    expect(cfg.notify!.config.channels.hook).toMatchObject({
      type: 'webhook',
      secret: 's3cret',
      language: 'id',
    });
    expect(cfg.notify!.config.timing).toEqual({
      settle_s: 120,
      clear_s: 600,
      min_interval_s: 900,
      repeat_s: 3600,
    });
    expect(() => loadBrokerConfig(central('notify: { file: notify.yaml }\n'))).toThrowError(
      /central\.yaml:3:\d+: notify: notifications are about incidents: they need backbone/,
    );
    writeFileSync(join(dir, 'notify.yaml'), 'channels: {}\nrules: []\n');
    expect(() =>
      loadBrokerConfig(central('backbone: { file: backbone.yaml }\nnotify: { file: notify.yaml }\n')),
    ).toThrowError(/notify\.yaml:2:8: rules: needs at least 1 entry/);
  });
});

describe('e-mail through an intranet relay', () => {
  it('STARTTLS with the relay checked against a private CA, AUTH; required TLS never falls back to clear text', async () => {
    requireBinary('/usr/bin/openssl', 'apt-get install -y openssl');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=relay.test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '2',
        '-keyout',
        join(dir, 'relay.key'),
        '-out',
        join(dir, 'relay.crt'),
      ],
      { stdio: 'ignore' },
    );
    const tlsSink = new SmtpSink(
      await freePort(),
      { user: 'pantau', pass: 'relay-pass-1' },
      {
        cert: readFileSync(join(dir, 'relay.crt'), 'utf8'),
        key: readFileSync(join(dir, 'relay.key'), 'utf8'),
      },
    );
    await tlsSink.start();
    try {
      writeFileSync(join(dir, 'smtp.pw'), 'relay-pass-1\n');
      writeFileSync(join(dir, 'wrong.pw'), 'nope\n');
      const file = join(dir, 'mail.yaml');
      const ch = (name: string, port: number, extra: string) =>
        `  ${name}: { type: smtp, host: 127.0.0.1, port: ${port}, from: pantau@soppengkab.go.id, to: [noc@soppengkab.go.id], ${extra} }\n`;
      writeFileSync(
        file,
        `channels:\n${ch('good', tlsSink.port, 'starttls: required, ca_file: relay.crt, username: pantau, password_file: smtp.pw')}${ch(
          'badpass',
          tlsSink.port,
          'starttls: required, ca_file: relay.crt, username: pantau, password_file: wrong.pw',
        )}${ch('untrusted', tlsSink.port, 'starttls: required, username: pantau, password_file: smtp.pw')}${ch(
          'cleartext',
          smtp.port,
          'starttls: required',
        )}rules:\n  - { channels: [good] }\n`,
      );
      const cfg = loadNotifyConfig(file);
      const m: Outgoing = {
        id: 'link:scc-pasar@1:opened:0',
        subject: '[Pantau] GANGGUAN: Tautan SCC–Pasar putus',
        text: 'Lokasi: Pasar Sentral\n.\nbaris setelah titik',
        data: {},
      };
      await send(cfg.channels.good!, 'noc@soppengkab.go.id', m);
      expect(tlsSink.mails).toHaveLength(1);
      expect(tlsSink.mails[0]).toMatchObject({
        tls: true,
        user: 'pantau',
        to: ['noc@soppengkab.go.id'],
        subject: m.subject,
      });
      // A line with a lone dot survives SMTP's dot-stuffing.
      expect(tlsSink.mails[0]!.text).toBe(m.text);
      await expect(send(cfg.channels.badpass!, 'noc@soppengkab.go.id', m)).rejects.toThrow(
        /535|Invalid login/,
      );
      await expect(send(cfg.channels.untrusted!, 'noc@soppengkab.go.id', m)).rejects.toThrow(/certificate/);
      await expect(send(cfg.channels.cleartext!, 'noc@soppengkab.go.id', m)).rejects.toThrow(/STARTTLS/);
      expect(tlsSink.mails).toHaveLength(1);
      expect(smtp.mails).toHaveLength(0);
    } finally {
      await tlsSink.stop();
    }
  });
});

describe('the documented example', () => {
  it('docs/notifications.md: the notify.yaml example loads', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/notifications.md'), 'utf8');
    const yaml = doc.split('## Contoh `notify.yaml`')[1]!.split('```yaml\n')[1]!.split('```')[0]!;
    for (const f of [
      'notify-webhook.secret',
      'ca-intranet.crt',
      'notify-smtp.password',
      'wa.token',
      'telegram.token',
    ])
      writeFileSync(join(dir, f), 'x\n');
    const file = join(dir, 'example.yaml');
    writeFileSync(file, yaml.replaceAll('/etc/pantau/', `${dir}/`));
    const cfg = loadNotifyConfig(file);
    expect(Object.keys(cfg.channels)).toEqual(['helpdesk', 'email', 'wa', 'tg']);
    expect(cfg.rules).toHaveLength(4);
    expect(cfg.digest?.time).toBe('07:00');
  });
});
