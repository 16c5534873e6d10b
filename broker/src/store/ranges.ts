// A set of integers kept as sorted, disjoint, inclusive ranges: sequence numbers arrive mostly in
// order, so a day of a busy site's numbers is a handful of ranges rather than half a million entries.

export class RangeSet {
  private readonly r: Array<[number, number]> = [];

  /** Index of the last range starting at or below n, -1 if none. */
  private find(n: number): number {
    let lo = 0;
    let hi = this.r.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.r[mid]![0] <= n) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at;
  }

  has(n: number): boolean {
    const i = this.find(n);
    return i >= 0 && this.r[i]![1] >= n;
  }

  add(n: number): void {
    this.addRange(n, n);
  }

  addRange(a: number, b: number): void {
    let i = this.find(a);
    // Merge with the range before when it touches [a, b].
    if (i >= 0 && this.r[i]![1] >= a - 1) {
      a = this.r[i]![0];
      b = Math.max(b, this.r[i]![1]);
    } else i++;
    // Swallow the ranges after that [a, b] reaches.
    let j = i;
    while (j < this.r.length && this.r[j]![0] <= b + 1) {
      b = Math.max(b, this.r[j]![1]);
      j++;
    }
    this.r.splice(i, j - i, [a, b]);
  }

  get ranges(): ReadonlyArray<readonly [number, number]> {
    return this.r;
  }

  /** The numbers in [lo, hi] not in the set, as ranges. */
  gaps(lo: number, hi: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let next = lo;
    for (const [a, b] of this.r) {
      if (b < next) continue;
      if (a > hi) break;
      if (a > next) out.push([next, Math.min(a - 1, hi)]);
      next = Math.max(next, b + 1);
    }
    if (next <= hi) out.push([next, hi]);
    return out;
  }
}
