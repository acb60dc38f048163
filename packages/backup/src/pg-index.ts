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
import { isLowerHex } from "@tidemark/agent-protocol";
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, is, sql, type SQL } from "drizzle-orm";
import { alias, PgTransaction } from "drizzle-orm/pg-core";
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
/** From this many ids, a missing() batch runs with JIT off (see missingOf). */
const NO_JIT_MIN = 2000;
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

/** The agent's columnar pack report (agent-protocol PackColumns): ids as one hex string, types as "0"/"1". */
type ReportColumns = { ids: string; types: string; offsets: number[]; lengths: number[]; rawLengths: number[] };

/**
 * chunk_index rows to write, as columns: `ids` 64 hex digits per row, concatenated, no id twice;
 * `packOf[i]` indexes the pack list of writeRows (absent: every row is in the first pack).
 */
type ChunkColumns = { ids: string; packOf?: number[]; offsets: number[]; lengths: number[]; rawLengths: number[]; types: number[] };

/**
 * Columns of the blobs of one or more packs, in order: an id two packs carry goes to the first
 * (one statement must not touch a row twice; ON CONFLICT DO UPDATE refuses), as when the packs
 * were written one after the other.
 */
function toColumns(packs: ReadonlyArray<ReadonlyArray<{ id: Buffer; type: number; offset: number; length: number; rawLength: number }>>): ChunkColumns {
  const ids: string[] = [];
  const cols: ChunkColumns = { ids: "", packOf: [], offsets: [], lengths: [], rawLengths: [], types: [] };
  const seen = new Set<string>();
  packs.forEach((blobs, p) => {
    for (const b of blobs) {
      const id = b.id.toString("hex");
      if (!HEX_ID.test(id)) throw new Error(`not a chunk id: ${JSON.stringify(id)}`);
      if (seen.has(id)) continue;
      seen.add(id);
      ids.push(id);
      cols.packOf!.push(p + 1);
      cols.offsets.push(b.offset);
      cols.lengths.push(b.length);
      cols.rawLengths.push(b.rawLength);
      cols.types.push(b.type);
    }
  });
  cols.ids = ids.join("");
  return cols;
}

/**
 * Refuses anything but whole 64-digit lower-case hex ids: the string goes to decode() as one
 * parameter, which would also take upper case and whitespace. isLowerHex is exactly as strict as
 * /^[0-9a-f]*$/ at ~40 % of its cost; the per-id regex only runs to name a bad id.
 */
function checkHexIds(ids: string): void {
  if (ids.length % 64 === 0 && isLowerHex(ids)) return;
  for (let i = 0; i < ids.length; i += 64) {
    const id = ids.slice(i, i + 64);
    if (!HEX_ID.test(id)) throw new Error(`not a chunk id: ${JSON.stringify(id)}`);
  }
  throw new Error("not a list of chunk ids");
}

/** SQLSTATE 23505, whether drizzle wrapped the driver's error (DrizzleQueryError.cause) or not. */
function isUniqueViolation(e: unknown): boolean {
  for (let x = e, depth = 0; x && typeof x === "object" && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    if ((x as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

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
   * customer may have just indexed them). `ids` as a list or as one string of
   * 64-hex-digit ids (the agent API's form: no per-id strings on the way in);
   * each missing id is answered once, in the order asked.
   */
  async missing(ids: string[] | string): Promise<string[]> {
    let hex: string;
    if (typeof ids === "string") {
      checkHexIds(ids);
      hex = ids;
    } else {
      for (const id of ids) if (!HEX_ID.test(id)) throw new Error(`not a chunk id: ${JSON.stringify(id)}`);
      hex = ids.join("");
    }
    const n = hex.length / 64;
    // Even batches (48k ids: 3 × 16k, not 20k + 20k + 8k); a small request stays one query.
    const size = Math.min(MISSING_BATCH, Math.max(MISSING_MIN_SPLIT, Math.ceil(n / MISSING_PARALLEL)));
    const batches: string[] = [];
    for (let i = 0; i < n; i += size) batches.push(hex.slice(i * 64, (i + size) * 64));
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
    // An id asked twice is probed twice (cheaper than a Set of every id) but answered once.
    const out = found.flat();
    return out.length > 1 ? [...new Set(out)] : out;
  }

  /**
   * The chunk_index row of the id `key` (an SQL expression over the outer query), as the lateral
   * relation `probed`: one primary-key probe,
   * whatever the planner's statistics say. `offset 0` fences the subquery, so nothing from outside
   * is pushed into it — the MSP half of the tenant scope is applied to the probed row afterwards.
   * Inside, `msp_id = $` let the planner AND the key probe with a bitmap of the MSP's whole
   * `chunk_index_msp_id_idx` range PER ID (no statistics on a fresh table): 3.3 ms per id once an
   * MSP held 195k chunk rows (a 20k-id commit check ran for minutes; the agent's 120 s timeout
   * retried it), 0.004 ms per id fenced. (Migration 0005 dropped that index; the fence stays, so no
   * other index or statistics state can bring the cliff back.) The former `chunk_id = any(array)` filter was the same
   * cliff one level up: a scan of every row of the customer times every id.
   */
  private probe(cols: SQL, key: SQL = sql`decode(q.h, 'hex')`): SQL {
    const c = schema.chunkIndex;
    return sql`(select ${cols} from ${c} where ${eq(c.customerId, this.scope.customerId)} and ${c.chunkId} = ${key} offset 0) as probed`;
  }

  /**
   * Only the unusable ids come back (a commit check of 60k indexed ids returns no rows instead of
   * 60k entries): no chunk row, or its pack is not (or no longer) indexed. One fenced primary-key
   * probe per id (probe()); the pack states are then read once per distinct pack, not per id, and
   * tested with a hashed NOT IN: joining packs per found id was 60 % of a commit check's
   * PostgreSQL CPU (48k indexed ids: 0.50 → 0.20 CPU-s). Nothing is cached.
   * The ids come as one validated hex string, decoded once (materialized, whatever the plan) and
   * cut by position; the answer is positions, sliced back out of the string here.
   */
  private async missingOf(hex: string): Promise<string[]> {
    const c = schema.chunkIndex;
    const query = sql`
      with d as materialized (select decode(${hex}::text, 'hex') as b),
      f as materialized (
        select q.n, c.pack_id
        from d cross join generate_series(1, ${hex.length / 64}::int) as q(n)
        left join lateral (
          select ${probed.packId} from ${this.probe(sql`${c.mspId}, ${c.customerId}, ${c.packId}`, sql`substring(d.b from (q.n - 1) * 32 + 1 for 32)`)} where ${scopeToCustomer(probed, this.scope)}
        ) c on true
      )
      select f.n from f
      where f.pack_id is null
         or f.pack_id not in (
              select p.pack_id from ${schema.packs} p
              where p.customer_id = ${this.scope.customerId} and p.state = 'indexed'
                and p.pack_id in (select distinct pack_id from f where pack_id is not null))
      order by f.n`;
    // No JIT for this statement: its cost estimate grows with the table (and without statistics,
    // 40 per probe at 290k rows), and past jit_optimize_above_cost PostgreSQL spent ~230 ms of a
    // 295 ms batch compiling it (a 48k-id commit check: 1.0 instead of 0.25 CPU-s). SET LOCAL
    // needs a transaction: on the pool, one per batch of at least NO_JIT_MIN ids (below that the
    // BEGIN/SET/COMMIT round trips cost more than JIT would: cost ~40 per probe even without
    // statistics). On a caller's transaction the batches share its connection (savepoints cannot
    // interleave), so there it runs as it is.
    const res = hex.length < NO_JIT_MIN * 64 || is(this.db, PgTransaction)
      ? await this.db.execute(query)
      : await this.db.transaction(async (tx) => {
          await tx.execute(sql`set local jit = off`);
          return tx.execute(query);
        });
    return rowsOf<{ n: number | string }>(res).map((r) => hex.slice((Number(r.n) - 1) * 64, Number(r.n) * 64));
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
   * Indexes one pack reported by the agent API, now: the same statements and rules as addPacks +
   * flush, without turning every id into a Buffer and back and without filling the lookup cache a
   * report never reads. The columns are the report's own form (ids as one hex string; reportPack
   * turns an older agent's `entries` into them) and must hold distinct ids — reportPack refuses
   * duplicates; they go to the database as they came.
   */
  async indexReported(pack: PackInfo & { columns: ReportColumns }): Promise<void> {
    const c = pack.columns;
    const types: number[] = new Array(c.types.length);
    for (let i = 0; i < types.length; i++) types[i] = c.types.charCodeAt(i) === 49 ? 1 : 0;
    await this.writeRows([{ id: pack.id, salt: pack.salt, size: pack.size, blobCount: c.offsets.length }], { ids: c.ids, offsets: c.offsets, lengths: c.lengths, rawLengths: c.rawLengths, types });
  }

  private async writePacks(packs: IndexedPack[]): Promise<void> {
    await this.writeRows(
      packs.map((p) => ({ id: p.id, salt: p.salt, size: p.size, blobCount: p.blobs.length })),
      toColumns(packs.map((p) => p.blobs)),
    );
  }

  /**
   * Pack rows and their chunk rows in a few statements: the pack rows in one INSERT, the chunk rows
   * as INSERT … SELECT over unnested arrays (a 2000-row VALUES list with 18 000 parameters cost
   * more to build in JS and to parse than to insert). The ids go as ONE hex string, decoded once
   * (a materialized CTE, so no plan evaluates it per row) and cut into 32-byte ids by position:
   * no per-id text array to build in JS or to parse in PostgreSQL, and no pack id repeated per row.
   *
   * Fast path: a plain INSERT in a savepoint (a first backup's chunks are new): PostgreSQL spends
   * ~25 % less on it than on ON CONFLICT … DO UPDATE … WHERE EXISTS(condemned). Any id already
   * indexed (a retried report, a re-homed chunk) fails it with 23505; then the savepoint is rolled
   * back and the conflict-aware statement runs, with the old semantics.
   */
  private async writeRows(packs: Array<PackInfo & { blobCount: number }>, cols: ChunkColumns): Promise<void> {
    for (const p of packs) if (!HEX_ID.test(p.id)) throw new Error(`not a pack id: ${JSON.stringify(p.id)}`);
    checkHexIds(cols.ids);
    const n = cols.ids.length / 64;
    for (const [name, col] of [["offsets", cols.offsets], ["lengths", cols.lengths], ["rawLengths", cols.rawLengths], ["types", cols.types]] as const) {
      if (col.length !== n) throw new Error(`${name} has ${col.length} values for ${n} ids`);
    }
    if (cols.packOf && cols.packOf.length !== n) throw new Error(`packOf has ${cols.packOf.length} values for ${n} ids`);
    await this.db
      .insert(schema.packs)
      .values(packs.map((p) => ({ ...this.scope, packId: p.id, size: p.size, salt: p.salt, blobCount: p.blobCount, uploadedByMachineId: this.opts.uploadedByMachineId ?? null })))
      .onConflictDoNothing();
    const c = schema.chunkIndex;
    const packList = hexLiteral(packs.map((p) => p.id));
    const statements = (conflict: boolean) => {
      const out: SQL[] = [];
      for (let i = 0; i < n; i += INSERT_BATCH) {
        const end = Math.min(n, i + INSERT_BATCH);
        const packOf = cols.packOf ? intLiteral(cols.packOf.slice(i, end)) : `{${"1,".repeat(end - i - 1)}1}`;
        // In the WHERE, `chunk_index.` is qualified by hand: inside the subquery a bare column would bind to `old`.
        out.push(sql`
          with d as materialized (select decode(${cols.ids.slice(i * 64, end * 64)}::text, 'hex') as b)
          insert into ${c} (msp_id, customer_id, chunk_id, pack_id, "offset", length, raw_length, type)
          select ${this.scope.mspId}::uuid, ${this.scope.customerId}::uuid, substring(d.b from (t.n - 1)::int * 32 + 1 for 32), (${packList}::text[])[t.p], t.off, t.len, t.raw, t.typ
          from d, unnest(${packOf}::int[], ${intLiteral(cols.offsets.slice(i, end))}::bigint[], ${intLiteral(cols.lengths.slice(i, end))}::int[],
                         ${intLiteral(cols.rawLengths.slice(i, end))}::int[], ${intLiteral(cols.types.slice(i, end))}::smallint[])
            with ordinality as t(p, off, len, raw, typ, n)
          ${
            conflict
              ? sql`on conflict (customer_id, chunk_id) do update
          set pack_id = excluded.pack_id, "offset" = excluded."offset", length = excluded.length, raw_length = excluded.raw_length, type = excluded.type
          where exists (select 1 from packs old where old.customer_id = chunk_index.customer_id and old.pack_id = chunk_index.pack_id and old.state = 'condemned')`
              : sql``
          }`);
      }
      return out;
    };
    // On the pool the savepoint is a transaction of its own (one connection); on a transaction, a savepoint.
    try {
      await this.db.transaction(async (sp) => {
        for (const q of statements(false)) await sp.execute(q);
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      for (const q of statements(true)) await this.db.execute(q);
    }
    // A chunk the scrub found bad IN THIS PACK stays unindexed when the pack is reported again (a retried
    // report, an engine index that still lists it): only a fresh copy in another pack may heal it.
    await this.db.execute(sql`
      delete from chunk_index c using bad_chunks b
      where c.customer_id = ${this.scope.customerId} and c.pack_id = any(${hexLiteral(packs.map((p) => p.id))}::text[])
        and b.customer_id = c.customer_id and b.chunk_id = c.chunk_id and b.pack_id = c.pack_id and b.healed_at is null`);
  }
}
