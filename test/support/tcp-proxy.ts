// A TCP proxy on 127.0.0.1 that plays a radio link between a site box and the central:
//  - pass:      bytes flow both ways;
//  - blackhole: connections stay open (new ones are accepted) but every byte is dropped both ways
//               and a close on one side is not passed on, as when the link fades out; on the way
//               back to pass, every connection that saw the blackhole is cut (its TCP stream has a
//               hole, as a real connection would have timed out), so the client reconnects;
//  - lose-acks: client → server passes, server → client is dropped: the central gets every publish
//               but the site box hears no acknowledgement (nor ping response); tainted like blackhole;
//  - reset:     every connection is reset (RST), new ones too.
// cut() resets the current connections once, e.g. in the middle of a burst of publishes.
// With `record`, every byte passed on is kept per connection and direction, to read the MQTT packets
// after (what the server sent is kept only when the client got it).

import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'lose-acks' | 'reset';

export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** Resets every current connection (both sides) now. */
  cut(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Bytes forwarded client → server and server → client, and bytes dropped by the blackhole. */
  readonly bytes: { up: number; down: number; dropped: number };
  /** With `record`: the bytes each connection sent upstream, in order of connection. */
  readonly recorded: Buffer[][];
  /** With `record`: the bytes the server sent that reached the client, per connection as above. */
  readonly recordedDown: Buffer[][];
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket | null;
  /** Saw a blackhole: its streams have holes. */
  tainted: boolean;
}

export async function startTcpProxy(
  target: { host?: string; port: number },
  opts: { record?: boolean } = {},
): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const recorded: Buffer[][] = [];
  const recordedDown: Buffer[][] = [];
  let accepted = 0;
  const bytes = { up: 0, down: 0, dropped: 0 };
  const pairs = new Set<Pair>();

  const kill = (p: Pair) => {
    pairs.delete(p);
    for (const s of [p.client, p.server])
      if (s && !s.destroyed) {
        // RST where the platform allows, else a plain destroy.
        if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
        else s.destroy();
      }
  };

  const server: Server = createServer((client) => {
    accepted++;
    const p: Pair = { client, server: null, tainted: mode === 'blackhole' || mode === 'lose-acks' };
    pairs.add(p);
    client.on('error', () => kill(p));
    if (mode === 'reset') return kill(p);
    const upstream = createConnection({ host: target.host ?? '127.0.0.1', port: target.port });
    p.server = upstream;
    const log: Buffer[] = [];
    const logDown: Buffer[] = [];
    if (opts.record) {
      recorded.push(log);
      recordedDown.push(logDown);
    }
    upstream.on('error', () => kill(p));
    client.on('data', (d: Buffer) => {
      if (mode === 'blackhole') {
        p.tainted = true;
        bytes.dropped += d.length;
        return;
      }
      bytes.up += d.length;
      if (opts.record) log.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (mode === 'blackhole' || mode === 'lose-acks') {
        p.tainted = true;
        bytes.dropped += d.length;
        return;
      }
      bytes.down += d.length;
      if (opts.record) logDown.push(Buffer.from(d));
      client.write(d);
    });
    // A close is news only when the link carries it.
    client.on('close', () => {
      if (mode !== 'blackhole') kill(p);
    });
    upstream.on('close', () => {
      if (mode !== 'blackhole' && mode !== 'lose-acks') kill(p);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    get mode() {
      return mode;
    },
    setMode(next: ProxyMode) {
      const was = mode;
      mode = next;
      if (next === 'reset') for (const p of [...pairs]) kill(p);
      if (was !== 'pass' && next === 'pass')
        for (const p of [...pairs]) if (p.tainted || p.client.destroyed || p.server?.destroyed) kill(p);
      if (next === 'blackhole' || next === 'lose-acks') for (const p of pairs) p.tainted = true;
    },
    cut() {
      for (const p of [...pairs]) kill(p);
    },
    get accepted() {
      return accepted;
    },
    bytes,
    recorded,
    recordedDown,
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of [...pairs]) kill(p);
        server.close(() => resolve());
      }),
  };
}
