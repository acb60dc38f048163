/**
 * Password attempts per account, beside better-auth's per-address limit: an attacker spreading
 * guesses over many addresses still meets this one. After `maxFailures` wrong passwords in a row
 * (none older than `windowSeconds` apart) the account refuses passwords for a while; each further
 * failure after a lock ends doubles it, capped at `maxLockSeconds`. A lock always ends by itself,
 * so an attacker can delay a user but never lock them out for good; a correct password clears
 * the count.
 *
 * Counts live in better-auth's PostgreSQL rate-limit table (unique key, atomic upsert), so every
 * portal instance sees the same count. Keys are `account|<email>`, which no address-keyed row of
 * better-auth's (`<ip>|<path>`) can equal.
 */
import { randomUUID } from "node:crypto";
import { type Database, schema } from "@tidemark/db";
import { eq, sql } from "drizzle-orm";

export type LockoutPolicy = { maxFailures: number; windowSeconds: number; baseLockSeconds: number; maxLockSeconds: number };

export const defaultLockout: LockoutPolicy = { maxFailures: 5, windowSeconds: 15 * 60, baseLockSeconds: 60, maxLockSeconds: 15 * 60 };

export type LockState = { failures: number; lockedForSeconds: number };

const keyOf = (email: string) => `account|${email.trim().toLowerCase()}`;

/** How long `failures` consecutive failures lock the account for, counted from the last one. */
export function lockSeconds(policy: LockoutPolicy, failures: number): number {
  if (failures < policy.maxFailures) return 0;
  return Math.min(policy.baseLockSeconds * 2 ** (failures - policy.maxFailures), policy.maxLockSeconds);
}

function stateOf(policy: LockoutPolicy, failures: number, lastFailure: number, now: number): LockState {
  if (now - lastFailure >= policy.windowSeconds * 1000) return { failures: 0, lockedForSeconds: 0 };
  const remaining = lastFailure + lockSeconds(policy, failures) * 1000 - now;
  return { failures, lockedForSeconds: remaining > 0 ? Math.ceil(remaining / 1000) : 0 };
}

export function accountLockout(database: Database, policy: LockoutPolicy = defaultLockout) {
  const t = schema.rateLimits;
  return {
    policy,
    /** The account's standing before an attempt is let through. */
    async check(email: string, now = Date.now()): Promise<LockState> {
      const [row] = await database.db.select({ count: t.count, last: t.lastRequest }).from(t).where(eq(t.key, keyOf(email)));
      return row ? stateOf(policy, row.count, Number(row.last), now) : { failures: 0, lockedForSeconds: 0 };
    },
    /** Counts one wrong password (a streak older than the window starts again at 1). */
    async fail(email: string, now = Date.now()): Promise<LockState> {
      const stale = now - policy.windowSeconds * 1000;
      const [row] = await database.db
        .insert(t)
        .values({ id: randomUUID(), key: keyOf(email), count: 1, lastRequest: now })
        .onConflictDoUpdate({
          target: t.key,
          set: { count: sql`case when ${t.lastRequest} < ${stale} then 1 else ${t.count} + 1 end`, lastRequest: now },
        })
        .returning({ count: t.count });
      return stateOf(policy, row!.count, now, now);
    },
    async clear(email: string): Promise<void> {
      await database.db.delete(t).where(eq(t.key, keyOf(email)));
    },
  };
}

export type AccountLockout = ReturnType<typeof accountLockout>;
