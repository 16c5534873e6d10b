// The broker's limits as plain data structures (no aedes in here): the size of each MQTT packet as
// it arrives, connections per account, a publish rate per client, back-off after failed logins.

/**
 * Reads MQTT fixed headers as bytes arrive and reports a packet over the limit as soon as its
 * length is known: before the packet itself is buffered, so a client announcing 200 MB costs
 * the broker nothing. (mqtt-packet, aedes's parser, has no limit of its own: it would buffer it.)
 */
export class PacketMeter {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;

  constructor(private readonly maxBytes: number) {}

  /** The size of a packet over the limit that this chunk starts, or 0. */
  feed(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          // A fifth length byte is malformed; the parser refuses it, we stop counting.
          if (this.lengthBytes >= 4) return 0;
          continue;
        }
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.maxBytes) return total;
        this.left = this.length;
        this.state = this.left === 0 ? 'type' : 'body';
      } else {
        const n = Math.min(this.left, chunk.length - i);
        i += n;
        this.left -= n;
        if (this.left === 0) this.state = 'type';
      }
    }
    return 0;
  }
}

/**
 * A token bucket with debt. With tokens left a publish passes; without, it waits for its token
 * (the client is read no further meanwhile, so TCP slows it down); a client that has run up more
 * than a whole burst of debt is not slowing down and is cut off.
 */
export class TokenBucket {
  private tokens: number;
  private at = performance.now();

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerS);
    this.at = now;
  }

  /** 0: go now; >0: wait this many ms; -1: over the limit for good. */
  take(): number {
    this.refill();
    if (this.tokens - 1 < -this.burst) return -1;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerS) * 1000);
  }

  /** Takes a token only if one is free now (take() would answer 0); otherwise changes nothing. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Live connections per account, by client id (a client reconnecting under its id replaces itself). */
export class ConnectionCounter<C> {
  private readonly byAccount = new Map<string, Map<C, string>>();

  /** The client ids connected under this account other than `clientId`. */
  others(account: string, clientId: string): number {
    let n = 0;
    for (const id of this.byAccount.get(account)?.values() ?? []) if (id !== clientId) n++;
    return n;
  }

  add(account: string, client: C, clientId: string): void {
    const m = this.byAccount.get(account) ?? new Map<C, string>();
    this.byAccount.set(account, m);
    m.set(client, clientId);
  }

  /** Every account with a live connection, and its clients. */
  entries(): IterableIterator<[string, Map<C, string>]> {
    return this.byAccount.entries();
  }

  remove(account: string, client: C): void {
    const m = this.byAccount.get(account);
    if (!m) return;
    m.delete(client);
    if (m.size === 0) this.byAccount.delete(account);
  }
}

/**
 * After `failures` failed logins from one address, that address waits 1 s, then 2, 4 … up to
 * `maxMs` per further failure; a success clears it. Forgotten after an hour of quiet.
 */
export class AuthBackoff {
  private readonly byAddress = new Map<string, { failures: number; until: number; last: number }>();

  constructor(
    private readonly failures: number,
    private readonly maxMs: number,
  ) {}

  /** Milliseconds this address must still wait; 0 when it may try. */
  blockedFor(address: string): number {
    const f = this.byAddress.get(address);
    if (!f) return 0;
    const now = Date.now();
    if (now - f.last > 3600_000) {
      this.byAddress.delete(address);
      return 0;
    }
    return Math.max(0, f.until - now);
  }

  fail(address: string): void {
    const now = Date.now();
    const f = this.byAddress.get(address) ?? { failures: 0, until: 0, last: now };
    f.failures++;
    f.last = now;
    const over = f.failures - this.failures;
    if (over >= 0) f.until = now + Math.min(this.maxMs, 1000 * 2 ** Math.min(over, 30));
    this.byAddress.set(address, f);
    if (this.byAddress.size > 10_000) {
      for (const [a, v] of this.byAddress) if (now - v.last > 3600_000) this.byAddress.delete(a);
    }
  }

  succeed(address: string): void {
    this.byAddress.delete(address);
  }
}
