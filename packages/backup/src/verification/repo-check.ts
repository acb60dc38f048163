/**
 * The repository check: the customer's index against its container. The
 * container's `data/` prefix is listed once; every pack the index still
 * points into must be there with its indexed size. A missing pack makes all
 * of its indexed chunks bad ('missing'): same bookkeeping, damage and alert
 * as the scrub. Cheap (a listing, no pack reads), so it can run often.
 */
import { schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, sql } from "drizzle-orm";
import { packIdFromKeyName } from "../engine";
import type { CustomerRepo } from "./context";
import { type BadChunk, type DamageReport, recordDamage } from "./damage";

export type RepositoryCheckRecord = typeof schema.repositoryChecks.$inferSelect;

export async function runRepositoryCheck(repo: CustomerRepo, now = new Date()): Promise<{ check: RepositoryCheckRecord; damage: DamageReport | null }> {
  const { db, scope } = repo;
  const rc = schema.repositoryChecks;
  const [row] = await db.insert(rc).values({ ...scope, startedAt: now }).returning();
  try {
    const stored = new Map<string, number>();
    for await (const m of repo.store.list("data/")) {
      const id = packIdFromKeyName(m.key);
      if (id) stored.set(id, m.size);
    }
    const c = schema.chunkIndex;
    const p = schema.packs;
    // Packs the index points into, with how many entries each: only those matter for restores.
    const used = await db
      .select({ packId: c.packId, chunks: sql<number>`count(*)::int`, size: p.size })
      .from(c)
      .innerJoin(p, and(eq(p.customerId, c.customerId), eq(p.packId, c.packId)))
      .where(scopeToCustomer(c, scope))
      .groupBy(c.packId, p.size);
    const missing: string[] = [];
    const findings: { problem: string; packId?: string }[] = [];
    let chunks = 0;
    for (const u of used) {
      chunks += u.chunks;
      const size = stored.get(u.packId);
      if (size === undefined) {
        missing.push(u.packId);
        findings.push({ packId: u.packId, problem: `pack is missing from the container (${u.chunks} indexed chunk(s))` });
      } else if (size !== u.size) {
        // Not "missing": the scrub reads it and decides entry by entry.
        findings.push({ packId: u.packId, problem: `pack is ${size} bytes in the container, ${u.size} in the index` });
      }
    }
    let damage: DamageReport | null = null;
    if (missing.length > 0) {
      const bad: BadChunk[] = [];
      for (const packId of missing) {
        const rows = await db
          .select({ id: sql<string>`encode(${c.chunkId}, 'hex')` })
          .from(c)
          .where(and(scopeToCustomer(c, scope), eq(c.packId, packId)));
        for (const r of rows) bad.push({ chunkId: r.id, packId, reason: "missing", problem: "pack object is missing from storage" });
        await db
          .update(p)
          .set({ scrubState: "missing", scrubbedAt: now })
          .where(and(scopeToCustomer(p, scope), eq(p.packId, packId)));
      }
      damage = await recordDamage(repo, bad, now);
    }
    const [done] = await db
      .update(rc)
      .set({ state: findings.length === 0 ? "passed" : "failed", finishedAt: new Date(), packsChecked: used.length, chunksChecked: chunks, missingPacks: missing, findings })
      .where(and(scopeToCustomer(rc, scope), eq(rc.id, row!.id)))
      .returning();
    return { check: done!, damage };
  } catch (e) {
    await db
      .update(rc)
      .set({ state: "failed", finishedAt: new Date(), findings: [{ problem: `check could not run: ${(e as Error).message}` }] })
      .where(and(scopeToCustomer(rc, scope), eq(rc.id, row!.id)));
    throw e;
  }
}
