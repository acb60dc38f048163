import type { Database } from "@tidemark/db";
import type { BlobAccount } from "./blob-account";
import type { Kek } from "./kek";
import { type RateLimiter, tokenBucket } from "./rate-limit";

/** Everything the agent API needs, built once per process by the portal (or a test). */
export type AgentServices = {
  database: Database;
  kek: Kek;
  blobs: BlobAccount;
  /** Per machine: generous enough for an initial backup's chunks/missing + packs bursts. */
  machineLimiter: RateLimiter;
  /** Per client address, for the unauthenticated enrol route. */
  enrollLimiter: RateLimiter;
  /** Upload / restore SAS lifetime (≤ 60). */
  sasMinutes: number;
  log: (message: string, err?: unknown) => void;
  /** Called after a pack report commits: enqueue its verification (the worker's `verify-pack`). */
  onPackIndexed?: (pack: { mspId: string; customerId: string; packId: string }) => Promise<unknown>;
};

export function createAgentServices(opts: {
  database: Database;
  kek: Kek;
  blobs: BlobAccount;
  machineLimiter?: RateLimiter;
  enrollLimiter?: RateLimiter;
  sasMinutes?: number;
  log?: AgentServices["log"];
  onPackIndexed?: AgentServices["onPackIndexed"];
}): AgentServices {
  return {
    database: opts.database,
    kek: opts.kek,
    blobs: opts.blobs,
    machineLimiter: opts.machineLimiter ?? tokenBucket({ capacity: 600, refillPerSecond: 50 }),
    enrollLimiter: opts.enrollLimiter ?? tokenBucket({ capacity: 10, refillPerSecond: 1 / 6 }),
    sasMinutes: Math.min(60, Math.max(5, opts.sasMinutes ?? 60)),
    log: opts.log ?? ((m, e) => console.error(`agent-api: ${m}`, e ?? "")),
    onPackIndexed: opts.onPackIndexed,
  };
}
