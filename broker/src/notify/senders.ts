// One delivery attempt on one channel. Each sender throws on anything but a clear success, so the
// queue retries it; none of them logs or retries on its own.

import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Channel } from './config.js';

/** What the queue holds for one delivery, frozen when it was queued. */
export interface Outgoing {
  /** Stable across retries, so a receiver can drop a duplicate. */
  id: string;
  subject: string;
  text: string;
  data: Record<string, unknown>;
}

export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

/** t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">: a receiver can refuse replays by the time. */
export function signature(secret: string, body: string, at = Date.now()): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

async function http(url: string, init: RequestInit, timeoutS: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutS * 1000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new DeliveryError(`${new URL(url).host}: ${cause ?? (e as Error).message}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new DeliveryError(`${new URL(url).host}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text;
}

const jsonEscape = (s: string) => JSON.stringify(s).slice(1, -1);

function fill(template: string, vars: Record<string, string>, quote: (s: string) => string): string {
  return template.replace(/\{\{(to|text|token)\}\}/g, (_, k: string) => quote(vars[k] ?? ''));
}

export async function send(ch: Channel, recipient: string, m: Outgoing): Promise<void> {
  switch (ch.type) {
    case 'webhook': {
      const body = JSON.stringify({ v: 1, id: m.id, subject: m.subject, text: m.text, ...m.data });
      await http(
        ch.url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-pantau-signature': signature(ch.secret, body),
            'x-pantau-delivery': m.id,
          },
          body,
        },
        ch.timeout_s,
      );
      return;
    }
    case 'smtp': {
      const transport = nodemailer.createTransport({
        host: ch.host,
        port: ch.port,
        secure: false,
        ignoreTLS: ch.starttls === 'off',
        requireTLS: ch.starttls === 'required',
        ...(ch.ca ? { tls: { ca: ch.ca } } : {}),
        ...(ch.username ? { auth: { user: ch.username, pass: ch.password ?? '' } } : {}),
        connectionTimeout: ch.timeout_s * 1000,
        greetingTimeout: ch.timeout_s * 1000,
        socketTimeout: ch.timeout_s * 1000,
      });
      try {
        await transport.sendMail({
          from: ch.from,
          to: recipient,
          subject: m.subject,
          text: m.text,
          messageId: `<${m.id.replace(/[^A-Za-z0-9.-]/g, '_')}@pantau>`,
        });
      } catch (e) {
        throw new DeliveryError(`${ch.host}:${ch.port}: ${(e as Error).message}`);
      } finally {
        transport.close();
      }
      return;
    }
    case 'chat_gateway': {
      const vars = { to: recipient, text: m.text, token: ch.token ?? '' };
      const json = ch.content_type.includes('json');
      const headers: Record<string, string> = { 'content-type': ch.content_type };
      for (const [k, v] of Object.entries(ch.headers)) headers[k] = fill(v, vars, (s) => s);
      const url = fill(ch.url, vars, encodeURIComponent);
      const body = fill(ch.body, vars, json ? jsonEscape : encodeURIComponent);
      await http(url, { method: ch.method, headers, ...(ch.method === 'GET' ? {} : { body }) }, ch.timeout_s);
      return;
    }
    case 'telegram': {
      const reply = await http(
        `${ch.api_url.replace(/\/$/, '')}/bot${ch.token}/sendMessage`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chat_id: recipient, text: m.text, disable_web_page_preview: true }),
        },
        ch.timeout_s,
      ).catch((e: Error) => {
        // The token is in the URL: keep it out of logs.
        throw new DeliveryError(e.message.replaceAll(ch.token, '***'));
      });
      if (!(JSON.parse(reply || '{}') as { ok?: boolean }).ok)
        throw new DeliveryError(`telegram: ${reply.slice(0, 200)}`);
      return;
    }
  }
}
