/**
 * The rolling scrub: every pack of a customer's container read back and
 * every indexed entry in it opened (GCM tag, decompression, keyed id
 * recomputed — exactly what `verify-pack` does after an upload), least
 * recently scrubbed first, so that the whole container is covered within the
 * policy's period. Each run reads a budget worked out from the container's
 * size and the run interval, at a limited rate, one or two packs at a time,
 * so backups keep the bandwidth.
 */
import { schema, scopeToCustomer } from "@tidemark/db";
import { BlobNotFoundError } from "@tidemark/storage";
import { and, asc, eq, sql } from "drizzle-orm";
import { packKey, packKeyName } from "../engine";
import { entryProblem } from "../verify-pack";
import type { CustomerRepo } from "./context";
import { type BadChunk, type DamageReport, damageNewPoints, recordDamage } from "./damage";

export const DAY_MS = 86_400_000;
/** Re-reading a little more than the exact share absorbs packs added between runs. */
const BUDGET_MARGIN = 1.25;

/**
 * Bytes one run must read so that `totalBytes` is covered within the
 * period when a run happens every `intervalMs`. At least one pack's worth
 * is always read (the caller reads at least one pack).
 */
export function scrubBudget(totalBytes: number, periodDays: number, intervalMs: number): number {
  const runs = Math.max(1, (periodDays * DAY_MS) / intervalMs);
  return Math.ceil((totalBytes / runs) * BUDGET_MARGIN);
}

export type ScrubOptions = {
  /** Bytes to read this run; Infinity reads every pack ("verify now"). */
  budgetBytes: number;
  /** Read rate limit; 0 = unthrottled. */
  bytesPerSecond?: number;
  /**
   * Packs in flight: scheduled runs use 1 (with the rate limit) so backups keep the bandwidth; "verify now"
   * uses up to 4 (each in-flight pack is held in memory whole, ≤ 64 MiB).
   */
  concurrency?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
};

export type ScrubResult = {
  packs: number;
  bytes: number;
  chunks: number;
  durationMs: number;
  bad: BadChunk[];
  damage: DamageReport | null;
};

type PackRow = { packId: string; size: number; salt: Buffer };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Packs a run would read, least recently scrubbed first (never scrubbed first of all). */
async function nextPacks(repo: CustomerRepo, budgetBytes: number): Promise<PackRow[]> {
  const p = schema.packs;
  const rows = await repo.db
    .select({ packId: p.packId, size: p.size, salt: p.salt })
    .from(p)
    .where(
      and(
        scopeToCustomer(p, repo.scope),
        eq(p.state, "indexed"),
        // A pack nothing is indexed in any more (all its entries found bad, or moved) has nothing to prove.
        sql`exists (select 1 from chunk_index c where c.customer_id = ${p.customerId} and c.pack_id = ${p.packId})`,
      ),
    )
    // Packs whose last scrub found a problem come first: if recording that damage failed (the job is retried),
    // their entries are still indexed and must be found again rather than wait a whole period.
    .orderBy(sql`case when ${p.scrubState} in ('corrupt', 'missing') then 0 else 1 end`, sql`${p.scrubbedAt} asc nulls first`, asc(p.packId));
  const out: PackRow[] = [];
  let bytes = 0;
  for (const r of rows) {
    if (out.length > 0 && bytes + r.size > budgetBytes) break;
    out.push(r);
    bytes += r.size;
  }
  return out;
}

async function scrubPack(repo: CustomerRepo, pack: PackRow): Promise<{ bytes: number; chunks: number; bad: BadChunk[]; state: "ok" | "corrupt" | "missing" }> {
  const c = schema.chunkIndex;
  const rows = await repo.db
    .select({ id: sql<string>`encode(${c.chunkId}, 'hex')`, offset: c.offset, length: c.length, rawLength: c.rawLength, type: c.type })
    .from(c)
    .where(and(scopeToCustomer(c, repo.scope), eq(c.packId, pack.packId)));
  let bytes: Buffer;
  try {
    bytes = await repo.store.get(packKeyName(pack.packId));
  } catch (e) {
    if (!(e instanceof BlobNotFoundError)) throw e;
    return { bytes: 0, chunks: rows.length, state: "missing", bad: rows.map((r) => ({ chunkId: r.id, packId: pack.packId, reason: "missing", problem: "pack object is missing from storage" })) };
  }
  const key = packKey(repo.keys.enc, pack.salt);
  const bad: BadChunk[] = [];
  for (const r of rows) {
    const why = entryProblem(repo.keys, pack.packId, key, bytes, r);
    if (why) bad.push({ chunkId: r.id, packId: pack.packId, reason: "corrupt", problem: why });
  }
  return { bytes: bytes.length, chunks: rows.length, bad, state: bad.length > 0 ? "corrupt" : "ok" };
}

/** One scrub run over one customer. Bad chunks are recorded (damage + alert) as soon as a pack shows them. */
export async function scrubCustomer(repo: CustomerRepo, opts: ScrubOptions): Promise<ScrubResult> {
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? defaultSleep;
  const started = Date.now();
  await damageNewPoints(repo);
  const packs = await nextPacks(repo, opts.budgetBytes);
  const result: ScrubResult = { packs: 0, bytes: 0, chunks: 0, durationMs: 0, bad: [], damage: null };
  const rate = opts.bytesPerSecond ?? 0;
  const concurrency = Math.min(4, Math.max(1, Math.floor(opts.concurrency ?? 1)));
  let next = 0;
  let damage: Promise<void> = Promise.resolve();
  const p = schema.packs;
  async function lane() {
    while (next < packs.length) {
      const pack = packs[next++]!;
      const r = await scrubPack(repo, pack);
      await repo.db
        .update(p)
        .set({ scrubbedAt: now(), scrubState: r.state })
        .where(and(scopeToCustomer(p, repo.scope), eq(p.packId, pack.packId)));
      result.packs++;
      result.bytes += r.bytes;
      result.chunks += r.chunks;
      if (r.bad.length > 0) {
        // Recorded (and alerted) as soon as found, not after the whole run: on a large container the alert
        // would otherwise wait for every other pack. Each record carries everything found so far, so the one
        // open alert names all of it; records are serialised (two lanes may find damage at once).
        result.bad.push(...r.bad);
        const found = [...result.bad];
        damage = damage.then(async () => {
          result.damage = await recordDamage(repo, found, now());
        });
        await damage;
      }
      if (rate > 0) {
        // Keep the run's average at or under the limit: wait until the bytes read so far are "due".
        const due = (result.bytes / rate) * 1000 - (Date.now() - started);
        if (due > 0) await sleep(due);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, packs.length)) }, lane));
  result.durationMs = Date.now() - started;
  return result;
}

export type ScrubCoverage = {
  packs: number;
  bytes: number;
  /** Packs / bytes read back within the last `periodDays`. */
  scrubbedPacks: number;
  scrubbedBytes: number;
  periodDays: number;
  lastScrubAt: Date | null;
  /** Packs whose last scrub found a problem. */
  corruptPacks: number;
  missingPacks: number;
};

export async function scrubCoverage(repo: Pick<CustomerRepo, "db" | "scope">, periodDays: number, now = new Date()): Promise<ScrubCoverage> {
  const p = schema.packs;
  const since = new Date(now.getTime() - periodDays * DAY_MS);
  const [row] = await repo.db
    .select({
      packs: sql<number>`count(*)::int`,
      bytes: sql<number>`coalesce(sum(${p.size}), 0)::float8`,
      scrubbedPacks: sql<number>`count(*) filter (where ${p.scrubbedAt} >= ${since.toISOString()}::timestamptz)::int`,
      scrubbedBytes: sql<number>`coalesce(sum(${p.size}) filter (where ${p.scrubbedAt} >= ${since.toISOString()}::timestamptz), 0)::float8`,
      lastScrubAt: sql<Date | null>`max(${p.scrubbedAt})`,
      corruptPacks: sql<number>`count(*) filter (where ${p.scrubState} = 'corrupt')::int`,
      missingPacks: sql<number>`count(*) filter (where ${p.scrubState} = 'missing')::int`,
    })
    .from(p)
    .where(and(scopeToCustomer(p, repo.scope), eq(p.state, "indexed")));
  const last = row?.lastScrubAt;
  return {
    packs: row?.packs ?? 0,
    bytes: Number(row?.bytes ?? 0),
    scrubbedPacks: row?.scrubbedPacks ?? 0,
    scrubbedBytes: Number(row?.scrubbedBytes ?? 0),
    periodDays,
    lastScrubAt: last ? new Date(last) : null,
    corruptPacks: row?.corruptPacks ?? 0,
    missingPacks: row?.missingPacks ?? 0,
  };
}

/**
 * The scrub period that applies to a customer: the strictest (shortest) of
 * the policies its machines run, 7 days when none is assigned.
 */
export async function customerScrubPeriodDays(repo: Pick<CustomerRepo, "db" | "scope">): Promise<number> {
  const pa = schema.policyAssignments;
  const [row] = await repo.db
    .select({ days: sql<number | null>`min(${schema.policies.scrubPeriodDays})` })
    .from(pa)
    .innerJoin(schema.policies, eq(schema.policies.id, pa.policyId))
    .where(scopeToCustomer(pa, repo.scope));
  return Math.max(1, row?.days ?? 7);
}

/** Total indexed pack bytes of a customer: what the budget divides. */
export async function customerPackBytes(repo: Pick<CustomerRepo, "db" | "scope">): Promise<number> {
  const p = schema.packs;
  const [row] = await repo.db
    .select({ bytes: sql<number>`coalesce(sum(${p.size}), 0)::float8` })
    .from(p)
    .where(and(scopeToCustomer(p, repo.scope), eq(p.state, "indexed")));
  return Number(row?.bytes ?? 0);
}
