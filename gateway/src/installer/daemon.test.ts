import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../../../test/support/procs.js';
import { loadGatewayConfig } from '../config.js';
import { startGateway } from '../daemon.js';

const dir = tempDir('installer-daemon');
afterAll(() => dir.remove());
writeFileSync(join(dir.path, 'site.pw'), 'pw\n');

async function siteWithInstaller(port: number): Promise<string> {
  const file = join(dir.path, `site-${port}.yaml`);
  // No central needed here: the box keeps trying to connect while it runs.
  writeFileSync(
    file,
    `site: { id: pasar, timezone: Asia/Makassar }
mqtt: { urls: ["mqtt://127.0.0.1:${await freePort()}"], username: gw-pasar, password_file: site.pw }
state_dir: state-${port}
log_level: fatal
metrics: { enabled: false }
installer: { host: 127.0.0.1, port: ${port}, pin_file: installer.pin }
devices: []
`,
  );
  return file;
}

describe('the installer page inside the daemon', () => {
  it('runs with the daemon and stops with it', async () => {
    const port = await freePort();
    const gw = await startGateway(loadGatewayConfig(await siteWithInstaller(port)), {
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(gw.installerUrl()).toBe(`http://127.0.0.1:${port}/`);
      const s = (await (await fetch(`${gw.installerUrl()}api/session`)).json()) as { pin_set: boolean };
      // No PIN yet: the page says so instead of accepting any.
      expect(s).toEqual({ logged_in: false, pin_set: false });
    } finally {
      await gw.stop();
    }
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('a taken port costs the page, not the monitoring', async () => {
    const port = await freePort();
    const squatter = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      const gw = await startGateway(loadGatewayConfig(await siteWithInstaller(port)), {
        logger: pino({ level: 'silent' }),
      });
      expect(gw.installerUrl()).toBeNull();
      await gw.stop();
    } finally {
      squatter.close();
    }
  });
});
