// The receiving end of systemd's notify protocol, for tests: a unix datagram socket at a path, as
// systemd binds it for a Type=notify unit ($NOTIFY_SOCKET). Node cannot bind unix datagram sockets,
// so Debian's python3 does, and reports each datagram as one JSON line: its text and the sender's
// pid from the kernel's SCM_CREDENTIALS (what systemd uses to tell whose message it is).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { requireBinary, waitFor } from './procs.js';

const PYTHON = '/usr/bin/python3';

// File descriptors a sender passes (systemd-notify's BARRIER=1 sends a pipe and waits until systemd
// closes it) are closed at once, as systemd does, so the sender never waits for its timeout.
const RECEIVER = `
import array, json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * 4))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(data[0:4], sys.byteorder)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"at": time.time() * 1000, "pid": pid, "text": msg.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyMessage {
  /** When it arrived (ms since epoch). */
  at: number;
  /** The sender's pid as the kernel reports it. */
  pid: number | null;
  /** Its fields, e.g. { READY: '1', STATUS: 'polling' }. */
  fields: Record<string, string>;
}

export interface NotifySocket {
  path: string;
  messages: NotifyMessage[];
  close(): void;
}

/** Binds a notify socket in `dir` and collects what arrives. */
export async function notifySocket(dir: string): Promise<NotifySocket> {
  requireBinary(PYTHON, 'apt-get install -y python3');
  const path = join(dir, 'notify.sock');
  const proc = spawn(PYTHON, ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  let bound = false;
  let err = '';
  let rest = '';
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.stdout.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = JSON.parse(line) as { bound?: true; at: number; pid: number | null; text: string };
      if (m.bound) {
        bound = true;
        continue;
      }
      const fields: Record<string, string> = {};
      for (const kv of m.text.split('\n')) {
        const i = kv.indexOf('=');
        if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1);
      }
      messages.push({ at: m.at, pid: m.pid, fields });
    }
  });
  await waitFor('the notify socket bound', () => {
    if (proc.exitCode !== null) throw new Error(`notify receiver exited: ${err}`);
    return bound;
  });
  return { path, messages, close: () => proc.kill() };
}
