// Local receivers for notification tests: an SMTP sink that speaks the protocol over TCP (greeting,
// EHLO, optional AUTH PLAIN/LOGIN, MAIL, RCPT, DATA with dot-unstuffing, QUIT) and decodes what it
// got, and a webhook receiver that checks Pantau's HMAC signature. Both can be stopped and started
// again on the same port, to prove the queue retries.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer as createHttp, type Server as HttpServer } from 'node:http';
import { createServer as createTcp, type Socket, type Server as TcpServer } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface Mail {
  from: string;
  to: string[];
  headers: Record<string, string>;
  subject: string;
  text: string;
  raw: string;
  /** The user that authenticated, if any. */
  user: string | null;
  /** The message came over a STARTTLS-upgraded connection. */
  tls: boolean;
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  const flat = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < flat.length; i++) {
    if (flat[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(flat.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(flat.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(flat[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([qb])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
      enc.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQp(text.replace(/_/g, ' ')),
    );
}

export function parseMail(raw: string): Pick<Mail, 'headers' | 'subject' | 'text'> {
  const cut = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(cut + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const text =
    cte === 'quoted-printable'
      ? decodeQp(body)
      : cte === 'base64'
        ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
        : body;
  return {
    headers,
    subject: decodeWords(headers.subject ?? ''),
    text: text.replace(/\r\n/g, '\n').trimEnd(),
  };
}

export class SmtpSink {
  readonly mails: Mail[] = [];
  private server: TcpServer | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly account?: { user: string; pass: string },
    /** Offer STARTTLS with this certificate and key (PEM). */
    private readonly tlsCert?: { cert: string; key: string },
  ) {}

  async start(): Promise<void> {
    this.server = createTcp((sock) => this.session(sock));
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }

  private session(sock: Socket, secure = false): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    let inData = false;
    let data: string[] = [];
    let from = '';
    let to: string[] = [];
    let user: string | null = null;
    let loginStep: 'user' | 'pass' | null = null;
    let loginUser = '';
    const reply = (s: string) => sock.write(`${s}\r\n`);
    const checkAuth = (u: string, p: string) => {
      if (this.account && u === this.account.user && p === this.account.pass) {
        user = u;
        reply('235 2.7.0 Authentication successful');
      } else reply('535 5.7.8 Authentication failed');
    };
    if (!secure) reply('220 sink.test ESMTP');
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            const raw = Buffer.from(data.join('\r\n'), 'latin1').toString('utf8');
            this.mails.push({ from, to, raw, user, tls: secure, ...parseMail(raw) });
            reply('250 2.0.0 queued');
            from = '';
            to = [];
          } else data.push(line.startsWith('..') ? line.slice(1) : line);
          continue;
        }
        if (loginStep) {
          const v = Buffer.from(line, 'base64').toString('utf8');
          if (loginStep === 'user') {
            loginUser = v;
            loginStep = 'pass';
            reply('334 UGFzc3dvcmQ6');
          } else {
            loginStep = null;
            checkAuth(loginUser, v);
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO')
          reply(
            [
              '250-sink.test',
              ...(this.tlsCert && !secure ? ['250-STARTTLS'] : []),
              ...(this.account ? ['250-AUTH PLAIN LOGIN'] : []),
              '250 8BITMIME',
            ].join('\r\n'),
          );
        else if (verb === 'STAR' && this.tlsCert && !secure) {
          reply('220 2.0.0 ready to start TLS');
          sock.off('data', onData);
          // The session starts over on the encrypted socket (RFC 3207): no greeting, EHLO again.
          this.session(new TLSSocket(sock, { isServer: true, ...this.tlsCert }), true);
          return;
        } else if (verb === 'AUTH') {
          const [, mech, arg] = line.split(' ');
          if (mech?.toUpperCase() === 'PLAIN' && arg) {
            const [, u, p] = Buffer.from(arg, 'base64').toString('utf8').split('\u0000');
            checkAuth(u ?? '', p ?? '');
          } else if (mech?.toUpperCase() === 'LOGIN') {
            loginStep = 'user';
            reply('334 VXNlcm5hbWU6');
          } else reply('504 5.5.4 mechanism not supported');
        } else if (verb === 'MAIL') {
          if (this.account && !user) reply('530 5.7.0 Authentication required');
          else {
            from = /<([^>]*)>/.exec(line)?.[1] ?? '';
            reply('250 2.1.0 ok');
          }
        } else if (verb === 'RCPT') {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          data = [];
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 ok');
        else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          sock.end();
        } else reply('502 5.5.2 command not recognised');
      }
    };
    sock.on('data', onData);
  }
}

export interface Hook {
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  /** The signature checked out with the shared secret and the body as received. */
  signed: boolean;
}

export class WebhookReceiver {
  readonly hooks: Hook[] = [];
  private server: HttpServer | null = null;
  /** Answer with this status instead of 204 (a receiver in trouble). */
  failWith: number | null = null;

  constructor(
    readonly port: number,
    private readonly secret: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/pantau`;
  }

  verify(header: string | undefined, body: string): boolean {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
    if (!m) return false;
    const want = createHmac('sha256', this.secret).update(`${m[1]}.${body}`).digest();
    return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'));
  }

  async start(): Promise<void> {
    this.server = createHttp((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failWith) {
          res.writeHead(this.failWith).end('busy');
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        const signed = this.verify(req.headers['x-pantau-signature'] as string | undefined, text);
        this.hooks.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown>, signed });
        res.writeHead(signed ? 204 : 401).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
    this.server = null;
  }
}
