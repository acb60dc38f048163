/**
 * PgIndex's row writes on both engines the service runs on: the plain INSERT fast path, its
 * fallback to the conflict-aware statement when an id is already indexed (inside a caller's
 * transaction, as reportPack does, and on the pool), and the columnar input's validation.
 */
import { randomBytes } from "node:crypto";
import { schema, scopeToCustomer } from "@tidemark/db";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgIndex } from "../src";
import { chunkId, createWorld, type World } from "./fixtures";

const columnsOf = (ids: string[], first = 40) => ({
  ids: ids.join(""),
  types: ids.map((_, i) => String(i % 2)).join(""),
  offsets: ids.map((_, i) => first + i * 100),
  lengths: ids.map(() => 100),
  rawLengths: ids.map((_, i) => 90 + i),
});

describe.each([{ pglite: false }, { pglite: true }])("PgIndex writes (pglite: $pglite)", ({ pglite }) => {
  let w: World;
  const scope = () => ({ mspId: w.mspId, customerId: w.a1 });
  beforeAll(async () => {
    w = await createWorld({ pglite });
  });
  afterAll(async () => {
    await w?.stop();
  });
  const rows = async (ids: string[]) => {
    const all = await w.database.db.select().from(schema.chunkIndex).where(scopeToCustomer(schema.chunkIndex, scope()));
    const by = new Map(all.map((r) => [r.chunkId.toString("hex"), r]));
    return ids.map((id) => by.get(id));
  };
  const pack = (columns: ReturnType<typeof columnsOf>) => ({ id: chunkId(), salt: randomBytes(32), size: 1 << 20, columns });

  it("writes a columnar report as given (ids, types, offsets by position, all in that pack)", async () => {
    const ids = Array.from({ length: 5 }, chunkId);
    const p = pack(columnsOf(ids));
    await new PgIndex(w.database.db, scope()).indexReported(p);
    const got = await rows(ids);
    got.forEach((r, i) => expect(r).toMatchObject({ packId: p.id, type: i % 2, offset: 40 + i * 100, length: 100, rawLength: 90 + i }));
    const [packRow] = await w.database.db.select().from(schema.packs).where(eq(schema.packs.packId, p.id));
    expect(packRow).toMatchObject({ blobCount: 5, state: "indexed" });
  });

  it("an id already indexed falls back to ON CONFLICT inside the caller's transaction, which stays usable; a condemned copy is re-homed on the pool", async () => {
    const old = Array.from({ length: 3 }, chunkId);
    const first = pack(columnsOf(old));
    await new PgIndex(w.database.db, scope()).indexReported(first);
    const fresh = Array.from({ length: 3 }, chunkId);
    const second = pack(columnsOf([...fresh.slice(0, 2), old[1]!, fresh[2]!], 1000));
    await w.database.db.transaction(async (tx) => {
      await new PgIndex(tx, scope()).indexReported(second);
      // The failed fast path was rolled back to its savepoint, not the whole transaction.
      const [p] = await tx.select().from(schema.packs).where(and(eq(schema.packs.packId, second.id), scopeToCustomer(schema.packs, scope())));
      expect(p).toBeDefined();
    });
    expect((await rows(old)).map((r) => r?.packId)).toEqual([first.id, first.id, first.id]);
    expect((await rows(fresh)).map((r) => [r?.packId, r?.offset])).toEqual([
      [second.id, 1000],
      [second.id, 1100],
      [second.id, 1300],
    ]);
    // Retried: nothing moves, nothing fails.
    await new PgIndex(w.database.db, scope()).indexReported(second);
    expect((await rows([old[1]!]))[0]!.packId).toBe(first.id);

    await w.database.db.update(schema.packs).set({ state: "condemned" }).where(eq(schema.packs.packId, first.id));
    const third = pack(columnsOf([old[0]!, chunkId()], 5000));
    await new PgIndex(w.database.db, scope()).indexReported(third);
    expect((await rows(old)).map((r) => r?.packId)).toEqual([third.id, first.id, first.id]);
    expect((await rows([old[0]!]))[0]!.offset).toBe(5000);
    expect(await new PgIndex(w.database.db, scope()).missing(old)).toEqual([old[1], old[2]]);
  });

  it("refuses upper-case, non-hex or partial ids and columns of the wrong length, writing nothing", async () => {
    const good = chunkId();
    const idx = new PgIndex(w.database.db, scope());
    const upper = chunkId().toUpperCase();
    await expect(idx.indexReported(pack({ ...columnsOf([good, good]), ids: good + upper }))).rejects.toThrow(`not a chunk id: "${upper}"`);
    await expect(idx.indexReported(pack({ ...columnsOf([good, good]), ids: good + "zz'}" }))).rejects.toThrow(/not a chunk id/);
    await expect(idx.indexReported(pack({ ...columnsOf([good, good]), ids: good + `${good.slice(0, 63)} ` }))).rejects.toThrow(/not a chunk id/);
    await expect(idx.indexReported(pack({ ...columnsOf([good]), offsets: [] }))).rejects.toThrow(/offsets has 0 values for 1 ids/);
    expect(await rows([good])).toEqual([undefined]);
  });
});
