/**
 * In-memory token buckets, one per key (machine id, or client address for
 * enrolment). Per process: with N portal instances a machine gets N times the
 * rate, which is fine for its purpose (stop a looping agent from hammering
 * the database), and costs no database write per request.
 */
export interface RateLimiter {
  /** null when allowed; otherwise seconds until a token is available. */
  take(key: string): number | null;
}

export function tokenBucket(opts: { capacity: number; refillPerSecond: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? 50_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        // Full buckets are indistinguishable from absent ones, so dropping them all loses nothing but a little history.
        if (buckets.size >= maxKeys) buckets.clear();
        b = { tokens: opts.capacity, at: t };
        buckets.set(key, b);
      }
      b.tokens = Math.min(opts.capacity, b.tokens + ((t - b.at) / 1000) * opts.refillPerSecond);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / opts.refillPerSecond));
    },
  };
}
