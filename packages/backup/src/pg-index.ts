/**
 * The engine's Index over PostgreSQL: the service's authoritative copy, one
 * per customer, so dedup spans all of that customer's machines.
 *
 * The engine's interface is synchronous (a backup asks "have we got this?"
 * per chunk), so lookups are served from a cache that the async `load` and
 * `loadAll` calls fill in batches; `missing` always asks the database.
 * Server-side readers load the ids they are about to read (a tree's chunks,
 * a file's chunk list) and then use the engine's sync calls.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { CustomerScope } from "./kek";
import type { BlobType, Index, IndexedPack, IndexEntry, PackInfo } from "./engine";

const HEX_ID = /^[0-9a-f]{64}$/;
/** Ids per query: a 5000-element text array is ~330 KB, well under any statement limit. */
const LOOKUP_BATCH = 5000;
/** Ids per missing() query: only the unusable ones come back, so fewer, larger round trips (a commit checks ~60k). */
const MISSING_BATCH = 20_000;
/** missing() batches in flight at once (of the pool's 10 connections). */
const MISSING_PARALLEL = 3;
/** Below this many ids per batch, splitting costs more round trips than it saves. */
const MISSING_MIN_SPLIT = 5000;
/** Rows per INSERT: one statement of unnested arrays (8 parameters whatever the row count). */
const INSERT_BATCH = 20_000;

/**
 * A PostgreSQL array literal of validated ids, passed as ONE text parameter: validated hex needs
 * no quoting, and one parameter keeps the statement's size and parse cost flat.
 */
function hexLiteral(ids: string[]): string {
  for (const id of ids) if (!HEX_ID.test(id)) throw new Error(`not a chunk id: ${JSON.stringify(id)}`);
  return `{${ids.join(",")}}`;
}

const intLiteral = (xs: number[]) => {
  for (const x of xs) if (!Number.isSafeInteger(x)) throw new Error(`not an integer: ${x}`);
  return `{${xs.join(",")}}`;
};

/** postgres-js answers execute() with an array of rows, PGlite with `{ rows }`. */
function rowsOf<T>(res: unknown): T[] {
  return (Array.isArray(res) ? res : (res as { rows: T[] }).rows) as T[];
}

/** The row one probe found (see probe()): the tenant scope is checked on it, outside the fence. */
const probed = alias(schema.chunkIndex, "probed");

/** One chunk_index row to write, its id as hex. */
type ChunkRow = { id: string; pack: string; offset: number; length: number; rawLength: number; type: number };

type EntryRow = { id: string; pack: string; type: number; offset: number | string; length: number; raw_length: number; salt: Uint8Array; size: number | string; state: string };

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
    await this.selectAll();
  }

  /**
   * Ids a new point may NOT reference: not indexed, or only in a pack prune
   * condemned. Answers from the database every time (another machine of the
   * customer may have just indexed them).
   */
  async missing(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    // Even batches (48k ids: 3 × 16k, not 20k + 20k + 8k); a small request stays one query.
    const size = Math.min(MISSING_BATCH, Math.max(MISSING_MIN_SPLIT, Math.ceil(unique.length / MISSING_PARALLEL)));
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += size) batches.push(unique.slice(i, i + size));
    // A few batches at once: a point's commit check (~60k ids) is its last step, with the agent's
    // capture done and the cores otherwise idle. On a transaction's one connection (or PGlite)
    // they queue as before; MISSING_PARALLEL bounds what one check takes from the pool.
    const found: string[][] = new Array(batches.length);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const i = next++;
        found[i] = await this.missingOf(batches[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MISSING_PARALLEL, batches.length) }, worker));
    return found.flat();
  }

  /**
   * The chunk_index row of the id `q.h`, as the lateral relation `probed`: one primary-key probe,
   * whatever the planner's statistics say. `offset 0` fences the subquery, so nothing from outside
   * is pushed into it — the MSP half of the tenant scope is applied to the probed row afterwards.
   * Inside, `msp_id = $` let the planner AND the key probe with a bitmap of the MSP's whole
   * `chunk_index_msp_id_idx` range PER ID (no statistics on a fresh table): 3.3 ms per id once an
   * MSP held 195k chunk rows (a 20k-id commit check ran for minutes; the agent's 120 s timeout
   * retried it), 0.004 ms per id fenced. (Migration 0005 dropped that index; the fence stays, so no
   * other index or statistics state can bring the cliff back.) The former `chunk_id = any(array)` filter was the same
   * cliff one level up: a scan of every row of the customer times every id.
   */
  private probe(cols: SQL): SQL {
    const c = schema.chunkIndex;
    return sql`(select ${cols} from ${c} where ${eq(c.customerId, this.scope.customerId)} and ${c.chunkId} = decode(q.h, 'hex') offset 0) as probed`;
  }

  /**
   * Only the unusable ids come back (a commit check of 60k indexed ids returns no rows instead of
   * 60k entries): no chunk row, or its pack is not (or no longer) indexed. One fenced primary-key
   * probe per id (probe()); the pack states are then read once per distinct pack, not per id, and
   * tested with a hashed NOT IN: joining packs per found id was 60 % of a commit check's
   * PostgreSQL CPU (48k indexed ids: 0.50 → 0.20 CPU-s). Nothing is cached.
   */
  private async missingOf(ids: string[]): Promise<string[]> {
    const c = schema.chunkIndex;
    const res = await this.db.execute(sql`
      with f as materialized (
        select q.h, c.pack_id
        from unnest(${hexLiteral(ids)}::text[]) as q(h)
        left join lateral (
          select ${probed.packId} from ${this.probe(sql`${c.mspId}, ${c.customerId}, ${c.packId}`)} where ${scopeToCustomer(probed, this.scope)}
        ) c on true
      )
      select f.h as id from f
      where f.pack_id is null
         or f.pack_id not in (
              select p.pack_id from ${schema.packs} p
              where p.customer_id = ${this.scope.customerId} and p.state = 'indexed'
                and p.pack_id in (select distinct pack_id from f where pack_id is not null))`);
    return rowsOf<{ id: string }>(res).map((r) => r.id);
  }

  /** id → usable, for the ids that are indexed, in batches of LOOKUP_BATCH. */
  private async fetch(ids: string[]): Promise<Map<string, boolean>> {
    const unique = [...new Set(ids)];
    const found = new Map<string, boolean>();
    for (let i = 0; i < unique.length; i += LOOKUP_BATCH) {
      for (const r of await this.entriesOf(unique.slice(i, i + LOOKUP_BATCH))) found.set(r.id, r.state === "indexed");
    }
    return found;
  }

  /** One fenced primary-key probe per id (probe()), packs joined outside it. */
  private async entriesOf(ids: string[]) {
    const c = schema.chunkIndex;
    const res = await this.db.execute(sql`
      select encode(c.chunk_id, 'hex') as id, c.pack_id as pack, c.type, c."offset", c.length, c.raw_length, p.salt, p.size, p.state
      from unnest(${hexLiteral(ids)}::text[]) as q(h)
      cross join lateral (
        select ${probed.customerId}, ${probed.chunkId}, ${probed.packId}, ${probed.type}, ${probed.offset}, ${probed.length}, ${probed.rawLength}
        from ${this.probe(sql`${c.mspId}, ${c.customerId}, ${c.chunkId}, ${c.packId}, ${c.type}, ${c.offset}, ${c.length}, ${c.rawLength}`)} where ${scopeToCustomer(probed, this.scope)}
      ) c
      join ${schema.packs} p on p.customer_id = c.customer_id and p.pack_id = c.pack_id`);
    return rowsOf<EntryRow>(res).map((r) => {
      const row = { id: r.id, pack: r.pack, type: Number(r.type) as BlobType, offset: Number(r.offset), length: Number(r.length), rawLength: Number(r.raw_length), salt: Buffer.from(r.salt), size: Number(r.size), state: r.state };
      this.remember(row);
      return row;
    });
  }

  private remember(r: { id: string; pack: string; type: BlobType; offset: number; length: number; rawLength: number; salt: Buffer; size: number; state: string }) {
    this.byId.set(r.id, { pack: r.pack, type: r.type, offset: r.offset, length: r.length, rawLength: r.rawLength, usable: r.state === "indexed" });
    this.packMap.set(r.pack, { id: r.pack, salt: r.salt, size: r.size });
  }

  /** Every entry of the customer (verification, whole-repository reads). */
  private async selectAll() {
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
      .where(scopeToCustomer(c, this.scope));
    for (const r of rows) this.remember({ ...r, type: r.type as BlobType });
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
      await this.writePacks(batch);
    } catch (e) {
      this.pending = batch.concat(this.pending);
      throw e;
    }
  }

  /**
   * Indexes one pack whose entries carry their ids as hex (the agent API's pack report), now:
   * the same statements and rules as addPacks + flush, without turning every id into a Buffer
   * and back twice and without filling the lookup cache a report never reads.
   */
  async indexReported(pack: PackInfo & { entries: ReadonlyArray<{ id: string; type: number; offset: number; length: number; rawLength: number }> }): Promise<void> {
    const rows: ChunkRow[] = [];
    const seen = new Set<string>();
    for (const e of pack.entries) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      rows.push({ id: e.id, pack: pack.id, offset: e.offset, length: e.length, rawLength: e.rawLength, type: e.type });
    }
    await this.writeRows([{ ...pack, blobCount: pack.entries.length }], rows);
  }

  private async writePacks(packs: IndexedPack[]): Promise<void> {
    // One statement must not touch a row twice (ON CONFLICT DO UPDATE refuses): a chunk carried by
    // two of these packs goes to the first, as when the packs were written one after the other.
    const rows: ChunkRow[] = [];
    const seen = new Set<string>();
    for (const p of packs) {
      for (const b of p.blobs) {
        const id = b.id.toString("hex");
        if (seen.has(id)) continue;
        seen.add(id);
        rows.push({ id, pack: p.id, offset: b.offset, length: b.length, rawLength: b.rawLength, type: b.type });
      }
    }
    await this.writeRows(
      packs.map((p) => ({ id: p.id, salt: p.salt, size: p.size, blobCount: p.blobs.length })),
      rows,
    );
  }

  /**
   * Pack rows and their chunk rows in a few statements: the pack rows in one INSERT, the chunk rows
   * as INSERT … SELECT over unnested arrays (a 2000-row VALUES list with 18 000 parameters cost
   * more to build in JS and to parse than to insert).
   */
  private async writeRows(packs: Array<PackInfo & { blobCount: number }>, rows: ChunkRow[]): Promise<void> {
    for (const p of packs) if (!HEX_ID.test(p.id)) throw new Error(`not a pack id: ${JSON.stringify(p.id)}`);
    await this.db
      .insert(schema.packs)
      .values(packs.map((p) => ({ ...this.scope, packId: p.id, size: p.size, salt: p.salt, blobCount: p.blobCount, uploadedByMachineId: this.opts.uploadedByMachineId ?? null })))
      .onConflictDoNothing();
    const c = schema.chunkIndex;
    // In the WHERE, `chunk_index.` is qualified by hand: inside the subquery a bare column would bind to `old`.
    for (let i = 0; i < rows.length; i += INSERT_BATCH) {
      const part = rows.slice(i, i + INSERT_BATCH);
      await this.db.execute(sql`
        insert into ${c} (msp_id, customer_id, chunk_id, pack_id, "offset", length, raw_length, type)
        select ${this.scope.mspId}::uuid, ${this.scope.customerId}::uuid, decode(t.id, 'hex'), t.pack, t.off, t.len, t.raw, t.typ
        from unnest(${hexLiteral(part.map((r) => r.id))}::text[], ${hexLiteral(part.map((r) => r.pack))}::text[], ${intLiteral(part.map((r) => r.offset))}::bigint[],
                    ${intLiteral(part.map((r) => r.length))}::int[], ${intLiteral(part.map((r) => r.rawLength))}::int[], ${intLiteral(part.map((r) => r.type))}::smallint[])
          as t(id, pack, off, len, raw, typ)
        on conflict (customer_id, chunk_id) do update
          set pack_id = excluded.pack_id, "offset" = excluded."offset", length = excluded.length, raw_length = excluded.raw_length, type = excluded.type
          where exists (select 1 from packs old where old.customer_id = chunk_index.customer_id and old.pack_id = chunk_index.pack_id and old.state = 'condemned')`);
    }
    // A chunk the scrub found bad IN THIS PACK stays unindexed when the pack is reported again (a retried
    // report, an engine index that still lists it): only a fresh copy in another pack may heal it.
    await this.db.execute(sql`
      delete from chunk_index c using bad_chunks b
      where c.customer_id = ${this.scope.customerId} and c.pack_id = any(${hexLiteral(packs.map((p) => p.id))}::text[])
        and b.customer_id = c.customer_id and b.chunk_id = c.chunk_id and b.pack_id = c.pack_id and b.healed_at is null`);
  }
}
