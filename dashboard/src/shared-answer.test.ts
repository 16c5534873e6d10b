import { describe, expect, it } from 'vitest';
import { SharedAnswers } from './shared-answer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SharedAnswers', () => {
  it('computes once for the requests that come together, as JSON text', async () => {
    const shared = new SharedAnswers(10_000);
    let calls = 0;
    const compute = async () => {
      calls++;
      await sleep(20);
      return { n: calls };
    };
    const answers = await Promise.all([1, 2, 3].map(() => shared.get('k', compute)));
    expect(answers).toEqual(['{"n":1}', '{"n":1}', '{"n":1}']);
    expect(await shared.get('k', compute)).toBe('{"n":1}');
    expect(calls).toBe(1);
    // Another key is another answer.
    expect(await shared.get('other', compute)).toBe('{"n":2}');
  });

  it('computes afresh once the answer is older than its age, or after clear()', async () => {
    const shared = new SharedAnswers(30);
    let calls = 0;
    const compute = async () => ++calls;
    expect(await shared.get('k', compute)).toBe('1');
    await sleep(50);
    expect(await shared.get('k', compute)).toBe('2');
    shared.clear();
    expect(await shared.get('k', compute)).toBe('3');
  });

  it('does not keep a failure for later requests', async () => {
    const shared = new SharedAnswers(10_000);
    let fail = true;
    const compute = async () => {
      if (fail) throw new Error('store busy');
      return 'ok';
    };
    await expect(shared.get('k', compute)).rejects.toThrow('store busy');
    fail = false;
    expect(await shared.get('k', compute)).toBe('"ok"');
  });
});
