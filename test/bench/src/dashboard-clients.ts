// Dashboard clients of the dashboard benchmark (dashboard.ts starts a few of these processes): each
// client logs in, holds the live stream (/api/stream) open and, in "page" mode, behaves like the page
// (dashboard/web/app.ts, live.ts): loads its view's APIs, and after a live change reloads them, one
// second after the first change and never sooner than two seconds after its previous load. Each
// request's time is recorded per route. Node's http client, not fetch: cheaper per request, so the
// clients take less of the machine from the server they measure.
// stdin: "reset" clears the figures, "report" prints them as JSON, "end". Prints {"ready": true}.

import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

export interface ClientsConfig {
  base: string;
  /** One entry per client: who logs in and which view it has open. */
  clients: Array<{ username: string; password: string; view: View }>;
  mode: 'stream' | 'page';
}

export type View = 'map' | 'summary' | 'cameras';

/** The API calls each view makes when it draws (view-map.ts, view-summary.ts, view-cameras.ts). */
export const VIEW_CALLS: Record<View, string[]> = {
  map: ['/api/backbone', '/api/sites'],
  summary: ['/api/summary'],
  cameras: ['/api/cameras'],
};

/** The live-event types the page reacts to (web/live.ts); telemetry is delivered but ignored. */
const RELOAD_ON = new Set(['gateway-state', 'gateway-health', 'device-state', 'event', 'thumbnail']);
const DEBOUNCE_MS = 1000;
const REFRESH_MS = 2000;

export interface ClientsReport {
  /** Request durations (ms) per path. */
  latency: Record<string, number[]>;
  /** Failed requests, and connections refused or reset (then tried again). */
  errors: number;
  events: number;
  eventBytes: number;
  streams: number;
}

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
let ending = false;

function get(
  base: string,
  path: string,
  agent: Agent,
  cookie: string,
): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, headers: { cookie } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The login form's token (CSRF) and the cookie it is bound to, as the page gets them first. */
function loginForm(base: string, agent: Agent): Promise<{ csrf: string; cookie: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/login`, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const { csrf } = JSON.parse(Buffer.concat(chunks).toString()) as { csrf: string };
          resolve({ csrf, cookie: String(res.headers['set-cookie'] ?? '').split(';')[0] ?? '' });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function login(base: string, username: string, password: string, agent: Agent): Promise<string> {
  const form = await loginForm(base, agent);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/api/login`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'x-csrf-token': form.csrf, cookie: form.cookie },
      },
      (res) => {
        res.resume();
        const cookie = /pantau_sid=[^;]+/.exec(String(res.headers['set-cookie'] ?? ''))?.[0] ?? '';
        if (res.statusCode !== 200 || !cookie) reject(new Error(`login of ${username}: ${res.statusCode}`));
        else resolve(cookie);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ username, password }));
  });
}

/** A browser tries again after a refused or reset connection; so do these clients (counted). */
async function retried<T>(what: () => Promise<T>, onRetry: () => void): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await what();
    } catch (e) {
      if (i >= 10) throw e;
      onRetry();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as ClientsConfig;
  let r: ClientsReport = { latency: {}, errors: 0, events: 0, eventBytes: 0, streams: 0 };
  const reset = () => {
    r = { latency: {}, errors: 0, events: 0, eventBytes: 0, streams: r.streams };
  };

  const start = async (cl: ClientsConfig['clients'][number]) => {
    // A browser keeps up to six connections per host; the stream holds one of them.
    const agent = new Agent({ keepAlive: true, maxSockets: 6 });
    const cookie = await retried(
      () => login(c.base, cl.username, cl.password, agent),
      () => r.errors++,
    );
    let lastLoad = 0;
    let timer: NodeJS.Timeout | undefined;
    let loading = false;

    const load = async () => {
      loading = true;
      lastLoad = Date.now();
      await Promise.all(
        VIEW_CALLS[cl.view].map(async (path) => {
          const t0 = performance.now();
          try {
            const res = await get(c.base, path, agent, cookie);
            if (res.status !== 200) r.errors++;
            else {
              const list = r.latency[path] ?? [];
              list.push(performance.now() - t0);
              r.latency[path] = list;
            }
          } catch {
            r.errors++;
          }
        }),
      );
      loading = false;
    };
    const changed = () => {
      if (c.mode !== 'page' || timer !== undefined) return;
      const wait = Math.max(DEBOUNCE_MS, lastLoad + REFRESH_MS - Date.now());
      timer = setTimeout(async () => {
        // A draw still running (slow server) delays the next one, as the page's render queue does.
        while (loading) await new Promise((res) => setTimeout(res, 50));
        timer = undefined;
        await load();
      }, wait);
    };

    const stream = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(`${c.base}/api/stream`, { agent, headers: { cookie } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`));
          r.streams++;
          resolve();
          let rest = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            r.eventBytes += Buffer.byteLength(chunk);
            const text = rest + chunk;
            const cut = text.lastIndexOf('\n\n');
            if (cut < 0) {
              rest = text;
              return;
            }
            rest = text.slice(cut + 2);
            for (const block of text.slice(0, cut).split('\n\n')) {
              const type = /^event: (.+)$/m.exec(block)?.[1];
              if (!type || type === 'hello') continue;
              r.events++;
              if (RELOAD_ON.has(type)) changed();
            }
          });
          res.on('error', () => {});
          res.on('close', () => {
            r.streams--;
            // EventSource reconnects after a lost stream.
            if (!ending) setTimeout(() => void retried(stream, () => r.errors++).catch(() => {}), 1000);
          });
        });
        req.on('error', reject);
        req.end();
      });
    await retried(stream, () => r.errors++);
    if (c.mode === 'page') await load();
  };

  // Logins one after another: each costs the server a password hash.
  for (const cl of c.clients) await start(cl);
  say({ ready: true, clients: c.clients.length });

  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'reset') reset();
    else if (l === 'report') say(r);
    else if (l === 'end') {
      ending = true;
      process.exit(0);
    }
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`dashboard clients: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
