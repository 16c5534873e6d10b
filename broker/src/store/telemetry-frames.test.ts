// The packed telemetry writes and answers between the event loop and the writer thread, both ways
// through a real worker's message port (the ArrayBuffers are transferred, as in sqlite-thread.ts).

import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  readAnswers,
  readFrames,
  type TelemetryAnswerBatch,
  TelemetryAnswers,
  TelemetryFrames,
} from './telemetry-frames.js';

/** Posts `value` through a message port, transferring `buffer`, and returns what arrives. */
function across<T>(value: T, buffer: ArrayBuffer): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<T>((resolve) => {
    port2.once('message', (m: T) => {
      port1.close();
      resolve(m);
    });
    port1.postMessage(value, [buffer]);
  });
}

describe('telemetry frames', () => {
  it('arrive as written, in order, across a port: empty and large UTF-8 payloads, past the first buffer', async () => {
    const frames = new TelemetryFrames(64);
    const sent = [
      { id: 1, at: 1_764_636_000_123.5, site: 'rsud', device: 'ptp-scc', json: '{"v":1}' },
      { id: 2 ** 40, at: 1, site: 'kecamatan-sukajadi-2', device: 'kamera-01', json: '' },
      { id: 3, at: 2, site: 'psc', device: 'radio', json: `{"pad":"${'é'.repeat(50_000)}"}` },
    ];
    for (const f of sent) frames.add(f.id, f.at, f.site, f.device, Buffer.from(f.json));
    expect(frames.empty).toBe(false);
    const bytes = frames.take();
    expect(frames.empty).toBe(true);
    const got: typeof sent = [];
    readFrames(await across(bytes, bytes.buffer as ArrayBuffer), (id, at, site, device, json) =>
      got.push({ id, at, site, device, json }),
    );
    expect(got).toEqual(sent);
    // The next turn's frames start afresh.
    frames.add(4, 3, 'psc', 'radio', Buffer.from('{}'));
    const next: number[] = [];
    readFrames(frames.take(), (id) => next.push(id));
    expect(next).toEqual([4]);
  });

  it('answers come back with their outcome: stored, replay, malformed with its reason, failed with its error', async () => {
    const answers = new TelemetryAnswers();
    expect(answers.empty).toBe(true);
    answers.stored(7, { accepted: true, samples: 9 });
    answers.stored(8, { accepted: false, samples: 0 });
    answers.malformed(9, 'unknown metric "x"');
    answers.failed(10, 'database or disk is full');
    const batch = answers.take();
    expect(answers.empty).toBe(true);
    const got: unknown[] = [];
    readAnswers(await across<TelemetryAnswerBatch>(batch, batch[0].buffer as ArrayBuffer), (id, r, e) =>
      got.push([id, r, e]),
    );
    expect(got).toEqual([
      [7, { accepted: true, samples: 9 }, null],
      [8, { accepted: false, samples: 0 }, null],
      [9, { malformed: 'unknown metric "x"' }, null],
      [10, null, 'database or disk is full'],
    ]);
  });
});
