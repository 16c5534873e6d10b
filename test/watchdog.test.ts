// The site box under systemd's watchdog, with the real protocol: the daemon runs as a real process
// with NOTIFY_SOCKET and WATCHDOG_USEC set as systemd sets them for a Type=notify unit with
// WatchdogSec=, its messages go through Debian's real /usr/bin/systemd-notify, and the test binds the
// datagram socket systemd would listen on. A daemon that is frozen (SIGSTOP) or whose polling makes
// no progress stops feeding the watchdog, which is what makes systemd restart it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NotifySocket, notifySocket } from './support/notify-socket.js';
import { type Daemon, freePort, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('site box and the systemd watchdog (real systemd-notify, real notify socket)', () => {
  let dir: ReturnType<typeof tempDir>;
  let sock: NotifySocket;
  let gw: Daemon | null = null;
  let metricsPort: number;

  beforeEach(async () => {
    requireBinary('/usr/bin/systemd-notify', 'apt-get install -y systemd');
    dir = tempDir('watchdog');
    sock = await notifySocket(dir.path);
    metricsPort = await freePort();
  });
  afterEach(async () => {
    if (gw?.proc.pid && gw.proc.signalCode === null && gw.proc.exitCode === null)
      process.kill(gw.proc.pid, 'SIGCONT');
    await gw?.stop('SIGKILL');
    gw = null;
    sock.close();
    dir.remove();
  });

  /** A site box whose one device is polled every `intervalS`; no central answers (none is needed). */
  async function start(device: { intervalS: number }, stallAfterS?: number): Promise<Daemon> {
    const site = join(dir.path, 'site.yaml');
    writeFileSync(join(dir.path, 'gateway.pw'), 'not-used-here\n', { mode: 0o600 });
    writeFileSync(
      site,
      `site: { id: wd-site }
mqtt:
  urls: ["mqtt://127.0.0.1:${await freePort()}"]
  username: gw-wd-site
  password_file: gateway.pw
state_dir: state
log_level: info
metrics: { port: ${metricsPort}${stallAfterS ? `, stall_after_s: ${stallAfterS}` : ''} }
devices:
  - id: loopback
    kind: host
    address: 127.0.0.1
    interval_s: ${device.intervalS}
    timeout_ms: 800
    ping: { enabled: true, count: 1 }
`,
    );
    // As systemd sets them for the unit (WatchdogSec=1): a ping is due every half of it.
    return runDaemon('gateway', ['run', '--config', site], {
      NOTIFY_SOCKET: sock.path,
      WATCHDOG_USEC: '1000000',
    });
  }

  const pings = () => sock.messages.filter((m) => m.fields.WATCHDOG === '1');

  it('says READY=1 with its own pid, feeds WATCHDOG=1 while it runs, stops while frozen (SIGSTOP)', async () => {
    gw = await start({ intervalS: 1 });
    const pid = gw.proc.pid!;
    const ready = await waitFor('READY=1', () => sock.messages.find((m) => m.fields.READY === '1'));
    // systemd-notify --pid=<daemon>: the message names the daemon as the unit's main process, so
    // systemd accounts it to the daemon and not to the short-lived systemd-notify (NotifyAccess=all).
    expect(ready.fields).toMatchObject({ MAINPID: String(pid), STATUS: 'polling' });
    if (process.getuid?.() === 0) expect(ready.pid).toBe(pid); // root may send the daemon's credentials
    await waitFor('three watchdog pings', () => pings().length >= 3, 10_000);
    for (const p of pings()) expect(p.fields.MAINPID).toBe(String(pid));

    // Frozen: no pings at all, so systemd's WatchdogSec runs out and it restarts the daemon.
    process.kill(pid, 'SIGSTOP');
    await sleep(1500); // a systemd-notify started just before the stop may still deliver its ping
    const frozenAt = pings().length;
    await sleep(2500);
    expect(pings().length).toBe(frozenAt);

    // Thawed: it feeds the watchdog again.
    process.kill(pid, 'SIGCONT');
    await waitFor('pings after SIGCONT', () => pings().length >= frozenAt + 2, 5000);
  }, 40_000);

  it('stops feeding the watchdog while no poll finishes for stall_after_s, and /healthz says why', async () => {
    // One device polled once a day (its first poll comes at a random moment within the day), and
    // polling must make progress every 10 s: the daemon runs on, but its polling has stalled.
    gw = await start({ intervalS: 86_400 }, 10);
    await waitFor('READY=1', () => sock.messages.find((m) => m.fields.READY === '1'));
    await waitFor('watchdog pings while young', () => pings().length >= 3, 10_000);
    const h = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(h.status).toBe(200);
    await waitFor(
      '/healthz unhealthy',
      async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 503,
      15_000,
      250,
    );
    const health = (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).json()) as {
      ok: boolean;
      reasons: string[];
    };
    expect(health).toMatchObject({
      ok: false,
      reasons: [expect.stringMatching(/no poll finished for 1\d s/)],
    });
    await sleep(1500);
    const stalledAt = pings().length;
    await sleep(2500);
    expect(pings().length).toBe(stalledAt);
    expect(gw.proc.exitCode).toBeNull(); // alive: only the watchdog can tell systemd it is stuck
    expect(gw.output()).toContain('no longer feeding the systemd watchdog');
  }, 40_000);
});
