import { describe, expect, it } from 'vitest';
import { RangeSet } from './ranges.js';

describe('RangeSet', () => {
  it('merges touching numbers into ranges and reports the gaps', () => {
    const s = new RangeSet();
    for (const n of [5, 1, 2, 3, 9, 7, 8, 20]) s.add(n);
    expect(s.ranges).toEqual([
      [1, 3],
      [5, 5],
      [7, 9],
      [20, 20],
    ]);
    expect(s.has(4)).toBe(false);
    expect(s.has(8)).toBe(true);
    expect(s.gaps(0, 21)).toEqual([
      [0, 0],
      [4, 4],
      [6, 6],
      [10, 19],
      [21, 21],
    ]);
    s.addRange(2, 19);
    expect(s.ranges).toEqual([[1, 20]]);
    expect(s.gaps(1, 20)).toEqual([]);
    expect(new RangeSet().gaps(3, 4)).toEqual([[3, 4]]);
  });
});
