// Notifications through the real broker and dashboard processes: a site box says it goes offline
// over MQTT, the broker's engine opens an incident and its notifier e-mails an SMTP sink and posts a
// signed webhook; reminders repeat until an operator acknowledges on the dashboard's API; the site
// coming back sends "resolved".

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, startCentral } from './support/central.js';
import { SmtpSink, WebhookReceiver } from './support/notify-peers.js';
import { freePort, tempDir, waitFor } from './support/procs.js';

const BACKBONE = `
root: scc
timezone: Asia/Makassar
sites:
  - { id: scc, name: Soppeng Command Center, kecamatan: Lalabata }
  - { id: damkar, name: Pos Damkar Watansoppeng, kecamatan: Lalabata, agency: Damkar, priority: emergency }
links:
  - { id: scc-damkar, name: SCC–Damkar, medium: fiber, a: { site: scc }, b: { site: damkar } }
`;

const SECRET = 'system-test-hook-secret';
const tmp = tempDir('pantau-notify-sys-');
let central: Central;
let hook: WebhookReceiver;
let smtp: SmtpSink;
let site: mqtt.MqttClient;

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
timing: { settle_s: 0, clear_s: 0, min_interval_s: 0, repeat_s: 2 }
`,
  );
  central = await startCentral({
    dir: tmp.path,
    sites: ['scc', 'damkar'],
    users: [['operator1', 'operator']],
    backbone: BACKBONE,
    centralYaml: 'notify: { file: notify.yaml }',
  });
  site = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
    username: 'gw-damkar',
    password: 'gw-damkar-secret',
    clientId: 'damkar-test',
  });
}, 60_000);

afterAll(async () => {
  await site?.endAsync();
  await central?.stop();
  await hook.stop();
  await smtp.stop();
  tmp.remove();
});

const state = (s: 'online' | 'offline') =>
  site.publishAsync(
    'pantau/v1/damkar/gateway/state',
    JSON.stringify({ v: 1, state: s, ts: Date.now(), site: 'damkar' }),
    {
      qos: 1,
      retain: true,
    },
  );

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

    await waitFor('a reminder', () => hook.hooks.some((h) => h.body.transition === 'reminder'), 15_000);
    const inc = opened.body.incident as { key: string; opened_at: number };
    const ack = await central.api('/api/incidents/ack', 'operator1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: inc.key, opened_at: inc.opened_at, text: 'petugas menuju lokasi' }),
    });
    expect(ack.status).toBe(201);
    // A reminder may already be on its way; after that, none.
    await new Promise((r) => setTimeout(r, 3000));
    const reminders = hook.hooks.filter((h) => h.body.transition === 'reminder').length;
    await new Promise((r) => setTimeout(r, 6000));
    expect(hook.hooks.filter((h) => h.body.transition === 'reminder').length).toBe(reminders);

    await state('online');
    await waitFor('resolved webhook', () => hook.hooks.some((h) => h.body.transition === 'resolved'), 15_000);
    const resolved = hook.hooks.find((h) => h.body.transition === 'resolved')!;
    expect(resolved.body.text).toMatch(/^PULIH \(sudah normal\): Lokasi Pos Damkar Watansoppeng/);
    expect(resolved.body.text).toMatch(/Berlangsung \d+ detik/);
    await waitFor('resolved mail', () => smtp.mails.some((m) => m.subject.includes('PULIH')), 10_000);
    // Every webhook delivery is distinct: no message sent twice.
    const ids = hook.hooks.map((h) => h.body.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);
});
