/**
 * The engine's Index over PostgreSQL: the service's authoritative copy, one
 * per customer, so dedup spans all of that customer's machines.
 *
 * The engine's interface is synchronous (a backup asks "have we got this?"
 * per chunk), so lookups are served from a cache that the async `load`,
 * `loadAll` and `missing` calls fill in batches (`chunk_id = ANY(...)`).
 * Server-side readers load the ids they are about to read (a tree's chunks,
 * a file's chunk list) and then use the engine's sync calls.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, sql } from "drizzle-orm";
import type { CustomerScope } from "./kek";
import type { BlobType, Index, IndexedPack, IndexEntry, PackInfo } from "./engine";

const HEX_ID = /^[0-9a-f]{64}$/;
/** Ids per query: a 5000-element text array is ~330 KB, well under any statement limit. */
const LOOKUP_BATCH = 5000;
/** Rows per INSERT: 9 params each stays far below PostgreSQL's 65535-parameter cap. */
const INSERT_BATCH = 2000;

function hexArray(ids: string[]) {
  for (const id of ids) if (!HEX_ID.test(id)) throw new Error(`not a chunk id: ${JSON.stringify(id)}`);
  // Validated hex needs no quoting inside an array literal.
  return sql`array(select decode(h, 'hex') from unnest(${`{${ids.join(",")}}`}::text[]) as h)`;
}

export class PgIndex implements Index {
  private readonly byId = new Map<string, IndexEntry & { usable: boolean }>();
  private readonly packMap = new Map<string, PackInfo>();
  private pending: IndexedPack[] = [];

  constructor(
    private readonly db: DbOrTx,
    readonly scope: CustomerScope,
    private readonly opts: { uploadedByMachineId?: string } = {},
  ) {}

  /** Caches the entries (and their packs) of these ids; returns the ids that are not indexed at all. */
  async load(ids: string[]): Promise<string[]> {
    const found = await this.fetch(ids);
    return [...new Set(ids)].filter((id) => !found.has(id));
  }

  /** Every entry of the customer: verification and whole-repository reads. */
  async loadAll(): Promise<void> {
    await this.selectEntries(undefined);
  }

  /**
   * Ids a new point may NOT reference: not indexed, or only in a pack prune
   * condemned. Answers from the database every time (another machine of the
   * customer may have just indexed them).
   */
  async missing(ids: string[]): Promise<string[]> {
    const found = await this.fetch(ids);
    return [...new Set(ids)].filter((id) => found.get(id) !== true);
  }

  /** id → usable, for the ids that are indexed, in batches of LOOKUP_BATCH. */
  private async fetch(ids: string[]): Promise<Map<string, boolean>> {
    const unique = [...new Set(ids)];
    const found = new Map<string, boolean>();
    for (let i = 0; i < unique.length; i += LOOKUP_BATCH) {
      const rows = await this.selectEntries(sql`${schema.chunkIndex.chunkId} = any(${hexArray(unique.slice(i, i + LOOKUP_BATCH))})`);
      for (const r of rows) found.set(r.id, r.state === "indexed");
    }
    return found;
  }

  private async selectEntries(filter: ReturnType<typeof sql> | undefined) {
    const c = schema.chunkIndex;
    const p = schema.packs;
    const rows = await this.db
      .select({
        id: sql<string>`encode(${c.chunkId}, 'hex')`,
        pack: c.packId,
        type: c.type,
        offset: c.offset,
        length: c.length,
        rawLength: c.rawLength,
        salt: p.salt,
        size: p.size,
        state: p.state,
      })
      .from(c)
      .innerJoin(p, and(eq(p.customerId, c.customerId), eq(p.packId, c.packId)))
      .where(filter ? and(scopeToCustomer(c, this.scope), filter) : scopeToCustomer(c, this.scope));
    for (const r of rows) {
      this.byId.set(r.id, { pack: r.pack, type: r.type as BlobType, offset: r.offset, length: r.length, rawLength: r.rawLength, usable: r.state === "indexed" });
      this.packMap.set(r.pack, { id: r.pack, salt: r.salt, size: r.size });
    }
    return rows;
  }

  lookup(id: string): IndexEntry | undefined {
    const e = this.byId.get(id);
    return e && { pack: e.pack, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength };
  }
  has(id: string): boolean {
    return this.byId.has(id);
  }
  usable(id: string): boolean {
    return this.byId.get(id)?.usable ?? false;
  }
  packInfo(packId: string): PackInfo | undefined {
    return this.packMap.get(packId);
  }
  packs(): IterableIterator<PackInfo> {
    return this.packMap.values();
  }
  *entries(): IterableIterator<[string, IndexEntry]> {
    for (const id of this.byId.keys()) yield [id, this.lookup(id)!];
  }

  /** Only for packs whose object is durable in storage (the caller checked it). */
  addPacks(packs: IndexedPack[]): void {
    for (const p of packs) {
      this.packMap.set(p.id, { id: p.id, salt: p.salt, size: p.size });
      for (const b of p.blobs) {
        const id = b.id.toString("hex");
        const cur = this.byId.get(id);
        if (!cur || !cur.usable) this.byId.set(id, { pack: p.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.rawLength, usable: true });
      }
      this.pending.push(p);
    }
  }

  /**
   * Writes what addPacks queued. Idempotent: a pack or chunk already indexed
   * is left alone, except that a chunk whose indexed copy sits in a condemned
   * pack moves to the new pack (that is how prune's victims get re-homed).
   * Runs on the db/tx given: callers choose the transaction.
   */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      for (const p of batch) await this.writePack(p);
    } catch (e) {
      this.pending = batch.concat(this.pending);
      throw e;
    }
  }

  private async writePack(p: IndexedPack): Promise<void> {
    await this.db
      .insert(schema.packs)
      .values({ ...this.scope, packId: p.id, size: p.size, salt: p.salt, blobCount: p.blobs.length, uploadedByMachineId: this.opts.uploadedByMachineId ?? null })
      .onConflictDoNothing();
    const c = schema.chunkIndex;
    for (let i = 0; i < p.blobs.length; i += INSERT_BATCH) {
      const rows = p.blobs.slice(i, i + INSERT_BATCH).map((b) => ({
        ...this.scope,
        chunkId: b.id,
        packId: p.id,
        offset: b.offset,
        length: b.length,
        rawLength: b.rawLength,
        type: b.type,
      }));
      await this.db
        .insert(c)
        .values(rows)
        .onConflictDoUpdate({
          target: [c.customerId, c.chunkId],
          set: {
            packId: sql`excluded.pack_id`,
            offset: sql`excluded.offset`,
            length: sql`excluded.length`,
            rawLength: sql`excluded.raw_length`,
            type: sql`excluded.type`,
          },
          // Qualified by hand: inside the subquery a bare column would bind to `old`.
          setWhere: sql`exists (select 1 from packs old where old.customer_id = chunk_index.customer_id and old.pack_id = chunk_index.pack_id and old.state = 'condemned')`,
        });
    }
    // A chunk the scrub found bad IN THIS PACK stays unindexed when the pack is reported again (a retried
    // report, an engine index that still lists it): only a fresh copy in another pack may heal it.
    await this.db.execute(sql`
      delete from chunk_index c using bad_chunks b
      where c.customer_id = ${this.scope.customerId} and c.pack_id = ${p.id}
        and b.customer_id = c.customer_id and b.chunk_id = c.chunk_id and b.pack_id = c.pack_id and b.healed_at is null`);
  }
}
