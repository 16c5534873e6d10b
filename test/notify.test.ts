// Notifications through the real broker and dashboard processes: a site box says it goes offline
// over MQTT, the broker's engine opens an incident and its notifier e-mails an SMTP sink and posts a
// signed webhook; reminders repeat until an operator acknowledges on the dashboard's API; the site
// coming back sends "resolved"; a receiver that is down is retried until it is back, and the queue
// shows on the broker's /metrics meanwhile.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, cli, startCentral } from './support/central.js';
import { SmtpSink, WebhookReceiver } from './support/notify-peers.js';
import { freePort, tempDir, waitFor } from './support/procs.js';
import { promtoolCheck } from './support/promtool.js';

const BACKBONE = `
root: scc
timezone: Asia/Makassar
sites:
  - { id: scc, name: Soppeng Command Center, kecamatan: Lalabata }
  - { id: damkar, name: Pos Damkar Watansoppeng, kecamatan: Lalabata, agency: Damkar, priority: emergency }
  - { id: pasar, name: Pasar Sentral Watansoppeng, kecamatan: Lalabata }
  - { id: pkm-lalabata, name: Puskesmas Lalabata Rilau, kecamatan: Lalabata, agency: Dinas Kesehatan }
links:
  - { id: scc-damkar, name: SCC–Damkar, medium: fiber, a: { site: scc }, b: { site: damkar } }
  - { id: scc-pasar, name: SCC–Pasar, medium: fiber, a: { site: scc }, b: { site: pasar } }
  - { id: scc-pkm, name: SCC–Puskesmas, medium: fiber, a: { site: scc }, b: { site: pkm-lalabata } }
`;

const SECRET = 'system-test-hook-secret';
const tmp = tempDir('pantau-notify-sys-');
let central: Central;
let hook: WebhookReceiver;
let smtp: SmtpSink;
let site: mqtt.MqttClient;
let pasar: mqtt.MqttClient;
let pkm: mqtt.MqttClient;
let brokerMetrics: string;

beforeAll(async () => {
  hook = new WebhookReceiver(await freePort(), SECRET);
  smtp = new SmtpSink(await freePort(), { user: 'pantau', pass: 'relay-pass-1' });
  await hook.start();
  await smtp.start();
  writeFileSync(join(tmp.path, 'hook.secret'), SECRET);
  writeFileSync(join(tmp.path, 'smtp.pw'), 'relay-pass-1\n');
  writeFileSync(
    join(tmp.path, 'notify.yaml'),
    `channels:
  hook: { type: webhook, url: "${hook.url}", secret_file: hook.secret }
  mail:
    type: smtp
    host: 127.0.0.1
    port: ${smtp.port}
    from: pantau@soppengkab.go.id
    to: [scc@soppengkab.go.id]
    starttls: "off"
    username: pantau
    password_file: smtp.pw
rules:
  - { channels: [hook, mail], match: { severity: [critical] } }
timing: { settle_s: 2, clear_s: 3, min_interval_s: 0, repeat_s: 15 }
delivery: { retry_first_s: 1, retry_max_s: 2 }
`,
  );
  const metricsPort = await freePort();
  brokerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  central = await startCentral({
    dir: tmp.path,
    sites: ['scc', 'damkar', 'pasar', 'pkm-lalabata'],
    users: [['operator1', 'operator']],
    backbone: BACKBONE,
    centralYaml: `notify: { file: notify.yaml }\nmetrics: { port: ${metricsPort} }`,
  });
  site = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
    username: 'gw-damkar',
    password: 'gw-damkar-secret',
    clientId: 'damkar-test',
  });
  pasar = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
    username: 'gw-pasar',
    password: 'gw-pasar-secret',
    clientId: 'pasar-test',
  });
  pkm = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
    username: 'gw-pkm-lalabata',
    password: 'gw-pkm-lalabata-secret',
    clientId: 'pkm-test',
  });
}, 60_000);

afterAll(async () => {
  await site?.endAsync();
  await pasar?.endAsync();
  await pkm?.endAsync();
  await central?.stop();
  await hook.stop();
  await smtp.stop();
  tmp.remove();
});

const publishState = (client: mqtt.MqttClient, id: string, s: 'online' | 'offline') =>
  client.publishAsync(
    `pantau/v1/${id}/gateway/state`,
    JSON.stringify({ v: 1, state: s, ts: Date.now(), site: id }),
    {
      qos: 1,
      retain: true,
    },
  );
const state = (s: 'online' | 'offline') => publishState(site, 'damkar', s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The broker's notification figures from its /metrics. */
async function notifyMetrics(): Promise<{
  text: string;
  pending: number;
  oldestAge: number;
  n: (channel: string, result: string) => number;
}> {
  const text = await (await fetch(brokerMetrics)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    text,
    pending: value(/^pantau_broker_notify_queue_pending (\S+)$/m),
    oldestAge: value(/^pantau_broker_notify_queue_oldest_age_seconds (\S+)$/m),
    n: (channel, result) =>
      Number(
        new RegExp(
          `^pantau_broker_notifications_total\\{channel="${channel}",result="${result}"\\} (\\S+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      ),
  };
}
const about = (key: string) =>
  hook.hooks.filter((h) => (h.body.incident as { key: string } | undefined)?.key === key);

describe('notifications from the running broker', () => {
  it('opened, reminders until acknowledged on the dashboard, then resolved', async () => {
    await state('online');
    await state('offline');
    await waitFor('opened webhook', () => hook.hooks.length >= 1, 15_000);
    const opened = hook.hooks[0]!;
    expect(opened.signed).toBe(true);
    expect(opened.body.transition).toBe('opened');
    expect(opened.body.text).toContain('Lokasi Pos Damkar Watansoppeng tidak terjangkau');
    expect(opened.body.text).toContain('Pos Damkar Watansoppeng (Kec. Lalabata, layanan darurat)');
    await waitFor('opened mail', () => smtp.mails.length >= 1, 10_000);
    expect(smtp.mails[0]!.user).toBe('pantau');
    expect(smtp.mails[0]!.to).toEqual(['scc@soppengkab.go.id']);
    expect(smtp.mails[0]!.subject).toContain('GANGGUAN: Lokasi Pos Damkar Watansoppeng tidak terjangkau');

    await waitFor('a reminder', () => hook.hooks.some((h) => h.body.transition === 'reminder'), 25_000);
    const inc = opened.body.incident as { key: string; opened_at: number };
    const ack = await central.api('/api/incidents/ack', 'operator1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: inc.key, opened_at: inc.opened_at, text: 'petugas menuju lokasi' }),
    });
    expect(ack.status).toBe(201);
    // A reminder may already be on its way; after that, none.
    await sleep(3000);
    const reminders = hook.hooks.filter((h) => h.body.transition === 'reminder').length;
    await sleep(17_000);
    expect(hook.hooks.filter((h) => h.body.transition === 'reminder').length).toBe(reminders);

    await state('online');
    await waitFor('resolved webhook', () => hook.hooks.some((h) => h.body.transition === 'resolved'), 15_000);
    const resolved = hook.hooks.find((h) => h.body.transition === 'resolved')!;
    expect(resolved.body.text).toMatch(/^PULIH \(sudah normal\): Lokasi Pos Damkar Watansoppeng/);
    expect(resolved.body.text).toMatch(/Berlangsung \d+ (detik|menit)/);
    expect(about('site:damkar').map((h) => h.body.transition)).toEqual(['opened', 'reminder', 'resolved']);
    await waitFor('resolved mail', () => smtp.mails.some((m) => m.subject.includes('PULIH')), 10_000);
    // Every webhook delivery is distinct: no message sent twice.
    const ids = hook.hooks.map((h) => h.body.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);

  it('a site box flapping twenty times sends one opened and one resolved', async () => {
    await publishState(pasar, 'pasar', 'online');
    await sleep(1500);
    for (let i = 0; i < 20; i++) {
      await publishState(pasar, 'pasar', 'offline');
      await sleep(300);
      await publishState(pasar, 'pasar', 'online');
      await sleep(300);
    }
    await waitFor(
      'resolved',
      () => about('site:pasar').some((h) => h.body.transition === 'resolved'),
      20_000,
    );
    await sleep(4000);
    // The engine did see the flapping: several incidents, each opened and closed.
    const incidents = await central.api<Array<{ key: string; closed_at: number | null }>>(
      '/api/incidents?since=0&limit=1000',
      'operator1',
    );
    expect(incidents.body.filter((i) => i.key === 'site:pasar').length).toBeGreaterThanOrEqual(2);
    expect(about('site:pasar').map((h) => h.body.transition)).toEqual(['opened', 'resolved']);
    // (How often it went down is in the text when the settle time saw it flap: see the unit tests.)
    expect(smtp.mails.filter((m) => m.subject.includes('Pasar Sentral')).length).toBe(2);
  }, 60_000);

  it('pantau-broker notify test sends a test message on every channel; notify queue shows what waits', async () => {
    const config = join(tmp.path, 'central.yaml');
    const hooks = hook.hooks.length;
    const mails = smtp.mails.length;
    const { stdout } = await cli('broker', ['notify', 'test', '--config', config]);
    expect(stdout).toContain('OK    hook\n');
    expect(stdout).toContain('OK    mail → scc@soppengkab.go.id');
    expect(hook.hooks.slice(hooks).map((h) => [h.body.transition, h.signed])).toEqual([['test', true]]);
    expect(smtp.mails.slice(mails).map((m) => m.subject)).toEqual(['[Pantau] Uji pemberitahuan']);
    expect(smtp.mails.at(-1)!.text).toContain('Uji pemberitahuan Pantau: saluran "mail" berfungsi');
    hook.failWith = 503;
    try {
      await expect(
        cli('broker', ['notify', 'test', '--config', config, '--channel', 'hook']),
      ).rejects.toMatchObject({
        code: 1,
        stdout: expect.stringContaining('GAGAL hook: 127.0.0.1:'),
      });
    } finally {
      hook.failWith = null;
    }
    expect((await cli('broker', ['notify', 'queue', '--config', config])).stdout).toContain(
      'nothing waiting',
    );
    const all = (await cli('broker', ['notify', 'queue', '--config', config, '--all'])).stdout;
    expect(all).toMatch(/^sent +\S+ +hook +attempts=1/m);
    expect(all).toContain('[Pantau] PULIH (sudah normal): Lokasi Pasar Sentral Watansoppeng');
  });
  it('a receiver down while the broker runs: retried until it is back, then delivered once; /metrics shows the queue', async () => {
    await hook.stop();
    const before = await notifyMetrics();
    await publishState(pkm, 'pkm-lalabata', 'online');
    await sleep(1500);
    await publishState(pkm, 'pkm-lalabata', 'offline');
    // The mail goes out; the webhook's receiver is down, so its message waits and is retried.
    await waitFor(
      'opened mail',
      () => smtp.mails.some((m) => m.subject.includes('Puskesmas Lalabata')),
      15_000,
    );
    const down = await waitFor(
      'failed webhook attempts on /metrics',
      async () => {
        const m = await notifyMetrics();
        return m.n('hook', 'failed') >= before.n('hook', 'failed') + 2 && m;
      },
      15_000,
      250,
    );
    expect(down.pending).toBe(1);
    expect(down.oldestAge).toBeGreaterThan(0);
    expect(down.n('hook', 'sent')).toBe(before.n('hook', 'sent'));
    expect(down.n('mail', 'sent')).toBeGreaterThan(before.n('mail', 'sent'));
    await promtoolCheck(down.text, "the broker's /metrics with notifications");
    expect(about('site:pkm-lalabata')).toEqual([]);

    // The receiver comes back: the next retry (at most retry_max_s later) delivers it, once.
    await hook.start();
    await waitFor('the webhook delivered', () => about('site:pkm-lalabata').length === 1, 15_000);
    const opened = about('site:pkm-lalabata')[0]!;
    expect(opened.signed).toBe(true);
    expect(opened.body.transition).toBe('opened');
    expect(opened.body.text).toContain('Puskesmas Lalabata Rilau');
    const after = await waitFor('an empty queue on /metrics', async () => {
      const m = await notifyMetrics();
      return m.pending === 0 && m;
    });
    expect(after.oldestAge).toBe(0);
    expect(after.n('hook', 'sent')).toBe(before.n('hook', 'sent') + 1);
    expect(after.n('hook', 'given_up')).toBe(0);
    await sleep(3000);
    expect(about('site:pkm-lalabata')).toHaveLength(1);
  }, 60_000);
});
