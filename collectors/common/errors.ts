// Typed failures of a collector. The scheduler decides on back-off from the kind alone;
// the health rules turn the kind into a plain-language reason.

export type CollectorErrorKind = 'timeout' | 'auth' | 'unreachable' | 'malformed' | 'unsupported';

export class CollectorError extends Error {
  override name = 'CollectorError';
  constructor(
    readonly kind: CollectorErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isCollectorError = (e: unknown): e is CollectorError => e instanceof CollectorError;
