/**
 * The PostgreSQL index against the real engine: a backup written by the
 * engine into the customer's container is reported through the agent API,
 * and the server then finds and decrypts every chunk through PgIndex.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerDataKey, ensureCustomerRepository, PgIndex, readChunk, repositoryKeys, verifyIndexedPack } from "../src";
import { Repository } from "../src/engine";
import { backup } from "@tidemark/engine";
import { packColumns } from "@tidemark/agent-protocol";
import { call, chunkId, createWorld, enroll, type Enrolled, packReport, pointBody, putPack, type World } from "./fixtures";

let w: World;
let m: Enrolled;
let dir: string;
const scope = () => ({ mspId: w.mspId, customerId: w.a1 });

beforeAll(async () => {
  w = await createWorld();
  m = await enroll(w, w.a1, "engine-srv");
  dir = await mkdtemp(join(tmpdir(), "tm-backup-src-"));
  await mkdir(join(dir, "docs"));
  await writeFile(join(dir, "docs", "a.txt"), "hello tidemark\n".repeat(1000));
  await writeFile(join(dir, "big.bin"), randomBytes(3 * 1024 * 1024));
  await writeFile(join(dir, "same.bin"), Buffer.alloc(256 * 1024, 7));
});
afterAll(async () => {
  await w?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("PgIndex with the engine's packs", () => {
  it("indexes an engine backup reported through the API, commits the point, and reads every chunk back verified", async () => {
    const store = w.svc.blobs.container(w.a1).store;
    const repo = await Repository.open(store, { kek: w.svc.kek.key });
    const result = await backup(repo, { paths: [dir], workers: 0, host: "engine-srv" });
    const byPack = new Map<string, string[]>();
    for (const [id, e] of repo.index.entries()) byPack.set(e.pack, [...(byPack.get(e.pack) ?? []), id]);
    expect(byPack.size).toBeGreaterThan(0);

    for (const info of repo.index.packs()) {
      const ids = byPack.get(info.id) ?? [];
      const report = {
        packId: info.id,
        size: info.size,
        salt: info.salt.toString("base64"),
        entries: ids.map((id) => {
          const e = repo.index.lookup(id)!;
          return { id, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength };
        }),
      };
      const r = await call(w, "packs", { credential: m.credential, body: report });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const allIds = [...repo.index.entries()].map(([id]) => id);
    expect((await call(w, "chunksMissing", { credential: m.credential, body: { ids: allIds } })).body.missing).toEqual([]);

    const snap = result.snapshot;
    const point = await call(w, "points", {
      credential: m.credential,
      body: {
        ...pointBody({ rootTree: snap.tree, snapshotId: result.id, chunkIds: allIds }),
        manifest: { ...pointBody({ rootTree: snap.tree, snapshotId: result.id }).manifest, time: snap.time, stats: snap.stats, sources: snap.paths },
      },
    });
    expect(point.status, JSON.stringify(point.body)).toBe(201);

    // The server's own view: data key from PostgreSQL, locations from PgIndex, bytes from Azure.
    const dataKey = (await customerDataKey(w.database.db, w.svc.kek, scope()))!;
    expect(dataKey.toString("base64")).toBe(m.dataKey);
    const keys = repositoryKeys(dataKey);
    const index = new PgIndex(w.database.db, scope());
    expect(await index.load(allIds)).toEqual([]);
    for (const id of allIds) {
      expect(index.lookup(id)).toEqual(repo.index.lookup(id));
      expect(index.usable(id)).toBe(true);
      const plain = await readChunk(store, keys, index, id);
      expect(repo.id(plain)).toBe(id);
    }
    for (const info of repo.index.packs()) expect(index.packInfo(info.id)).toEqual(info);

    // The worker's cross-check agrees with every honest report…
    for (const info of repo.index.packs()) {
      expect(await verifyIndexedPack(w.database.db, store, keys, scope(), info.id)).toEqual({ packId: info.id, ok: true, problems: [] });
    }
    // …and names a chunk whose reported offset is wrong.
    const victim = [...repo.index.packs()][0]!;
    const [vid] = byPack.get(victim.id)!;
    await w.database.db.update(schema.chunkIndex).set({ offset: 41 }).where(eq(schema.chunkIndex.chunkId, Buffer.from(vid!, "hex")));
    const bad = await verifyIndexedPack(w.database.db, store, keys, scope(), victim.id);
    expect(bad.ok).toBe(false);
    expect(bad.problems.join("\n")).toContain(`chunk ${vid}: indexed at 41+`);
    const e = repo.index.lookup(vid!)!;
    await w.database.db.update(schema.chunkIndex).set({ offset: e.offset }).where(eq(schema.chunkIndex.chunkId, Buffer.from(vid!, "hex")));
    await repo.close();
  });

  it("a damaged pack is detected on a server-side read", async () => {
    const index = new PgIndex(w.database.db, scope());
    await index.loadAll();
    const [id, e] = [...index.entries()].find(([, x]) => x.type === 0)!;
    const store = w.svc.blobs.container(w.a1).store;
    const key = `data/${e.pack.slice(0, 2)}/${e.pack}`;
    const bytes = await store.get(key);
    bytes[e.offset + 5] = bytes[e.offset + 5]! ^ 0xff;
    await store.delete(key);
    await store.put(key, bytes);
    const keys = repositoryKeys((await customerDataKey(w.database.db, w.svc.kek, scope()))!);
    await expect(readChunk(store, keys, index, id)).rejects.toThrow(/authentication|does not match/);
    const report = await verifyIndexedPack(w.database.db, store, keys, scope(), e.pack);
    expect(report.ok).toBe(false);
    expect(report.problems.join(" ")).toMatch(/does not hash to its name/);
  });
});

describe("PgIndex semantics", () => {
  it("answers missing() in batches larger than one query, run at once on the pool and queued on a transaction's connection", async () => {
    const known = [chunkId(), chunkId()];
    const pack = await putPack(w, w.a1);
    await call(w, "packs", { credential: m.credential, body: packReport(pack, known) });
    const unknown = Array.from({ length: 12_000 }, chunkId);
    const ids = [...unknown.slice(0, 6000), known[0]!, ...unknown.slice(6000), known[1]!, unknown[5]!];
    const missing = await new PgIndex(w.database.db, scope()).missing(ids);
    expect(missing).toHaveLength(12_000);
    expect([...missing].sort()).toEqual([...unknown].sort());
    const inTx = await w.database.db.transaction((tx) => new PgIndex(tx, scope()).missing(ids));
    expect([...inTx].sort()).toEqual([...unknown].sort());
    // One bad id fails the whole check (no partial answer from the other batches).
    await expect(new PgIndex(w.database.db, scope()).missing([...unknown, "zz'}"])).rejects.toThrow(/not a chunk id/);
    expect(await new PgIndex(w.database.db, scope()).load([known[1]!, unknown[0]!])).toEqual([unknown[0]]);
  });

  it("probes one primary key per id however many chunk rows the MSP's other customers hold (no statistics yet)", async () => {
    // A fresh table has no statistics: the planner once ANDed every probe with a bitmap of the
    // MSP's whole msp_id index range (rows × ids: 3.3 ms per id at 195k rows, a commit check ran
    // for minutes). Autovacuum stays off so no ANALYZE rescues the plan half-way through.
    await w.database.db.execute(sql`alter table chunk_index set (autovacuum_enabled = false)`);
    await w.database.db.execute(sql`
      insert into chunk_index (msp_id, customer_id, chunk_id, pack_id, "offset", length, raw_length, type)
      select ${w.mspId}::uuid, ${w.a2}::uuid, sha256(int4send(g)), 'other-customer-pack', 0, 1, 1, 0 from generate_series(1, 200000) g`);
    // Indexed ids: a probe that finds nothing never builds the second bitmap, so only hits paid.
    const ids = Array.from({ length: 5000 }, chunkId);
    const idx = new PgIndex(w.database.db, scope());
    idx.addPacks([{ id: chunkId(), salt: randomBytes(32), size: 1 << 20, blobs: ids.map((id, i) => ({ type: 0 as const, id: Buffer.from(id, "hex"), offset: 40 + i * 100, length: 100, rawLength: 90 })) }]);
    await idx.flush();
    const t0 = Date.now();
    expect(await new PgIndex(w.database.db, scope()).missing(ids)).toEqual([]);
    expect(await new PgIndex(w.database.db, scope()).load(ids)).toEqual([]);
    // Fenced probes take ~0.1 s here even under load; the bitmap plan took 15-30 s.
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 120_000);

  it("refuses non-hex ids instead of building a query from them", async () => {
    await expect(new PgIndex(w.database.db, scope()).missing(["zz'}"])).rejects.toThrow(/not a chunk id/);
  });

  it("addPacks + flush through the engine interface is idempotent", async () => {
    const ids = [chunkId(), chunkId()];
    const pack = { id: chunkId(), salt: randomBytes(32), size: 1000, blobs: ids.map((id, i) => ({ type: 0 as const, id: Buffer.from(id, "hex"), offset: 40 + i * 100, length: 100, rawLength: 90 })) };
    for (let i = 0; i < 2; i++) {
      await w.database.db.transaction(async (tx) => {
        const idx = new PgIndex(tx, scope());
        idx.addPacks([pack]);
        expect(idx.usable(ids[0]!)).toBe(true);
        await idx.flush();
      });
    }
    const rows = await w.database.db.select().from(schema.chunkIndex).where(and(scopeToCustomer(schema.chunkIndex, scope()), eq(schema.chunkIndex.packId, pack.id)));
    expect(rows).toHaveLength(2);
    expect(await new PgIndex(w.database.db, scope()).missing(ids)).toEqual([]);
  });

  it("one flush of several packs: a chunk two packs carry goes to the first, a condemned copy is re-homed, bad input writes nothing", async () => {
    const blob = (id: string, i: number) => ({ type: 0 as const, id: Buffer.from(id, "hex"), offset: 40 + i * 100, length: 100, rawLength: 90 });
    const shared = chunkId();
    const rehome = chunkId();
    const condemned = await putPack(w, w.a1);
    await call(w, "packs", { credential: m.credential, body: packReport(condemned, [rehome]) });
    await w.database.db.update(schema.packs).set({ state: "condemned" }).where(eq(schema.packs.packId, condemned.packId));
    // More rows than one INSERT takes, so the statement split is exercised too.
    const many = Array.from({ length: 20_500 }, chunkId);
    const a = { id: chunkId(), salt: randomBytes(32), size: 1000, blobs: [shared, ...many].map(blob) };
    const b = { id: chunkId(), salt: randomBytes(32), size: 1000, blobs: [rehome, shared].map(blob) };
    const idx = new PgIndex(w.database.db, scope());
    idx.addPacks([a, b]);
    await idx.flush();
    const after = new PgIndex(w.database.db, scope());
    expect(await after.missing([shared, rehome, ...many])).toEqual([]);
    await after.load([shared, rehome, many[20_499]!]);
    expect(after.lookup(shared)!.pack).toBe(a.id);
    expect(after.lookup(rehome)!.pack).toBe(b.id);
    expect(after.lookup(many[20_499]!)!.pack).toBe(a.id);
    // Another customer's scope sees none of it.
    expect((await new PgIndex(w.database.db, { mspId: w.mspId, customerId: w.a2 }).missing([shared, rehome])).sort()).toEqual([shared, rehome].sort());

    const bad = new PgIndex(w.database.db, scope());
    const orphan = chunkId();
    bad.addPacks([{ id: "not-a-pack-id", salt: randomBytes(32), size: 1, blobs: [blob(orphan, 0)] }]);
    await expect(bad.flush()).rejects.toThrow(/not a pack id/);
    expect(await new PgIndex(w.database.db, scope()).missing([orphan])).toEqual([orphan]);
  });

  it("indexReported (hex ids, the report path) writes the rows addPacks + flush writes, idempotently; refuses non-hex ids", async () => {
    const rowsOf = async (packId: string) =>
      (await w.database.db.select().from(schema.chunkIndex).where(and(scopeToCustomer(schema.chunkIndex, scope()), eq(schema.chunkIndex.packId, packId))))
        .map((r) => ({ id: r.chunkId.toString("hex"), type: r.type, offset: r.offset, length: r.length, rawLength: r.rawLength }))
        .sort((x, y) => x.id.localeCompare(y.id));
    const entries = [chunkId(), chunkId(), chunkId()].map((id, i) => ({ id, type: i % 2, offset: 40 + i * 100, length: 100, rawLength: 90 + i }));
    const hexPack = { id: chunkId(), salt: randomBytes(32), size: 1000, columns: packColumns(entries) };
    for (let i = 0; i < 2; i++) await new PgIndex(w.database.db, scope()).indexReported(hexPack);
    const bufPack = { id: chunkId(), salt: randomBytes(32), size: 1000, blobs: entries.map((e) => ({ ...e, id: Buffer.from(chunkId(), "hex"), type: e.type as 0 })) };
    const idx = new PgIndex(w.database.db, scope());
    idx.addPacks([bufPack]);
    await idx.flush();
    const strip = (rows: Awaited<ReturnType<typeof rowsOf>>) => rows.map(({ id: _, ...r }) => r).sort((x, y) => x.offset - y.offset);
    expect(await rowsOf(hexPack.id)).toEqual([...entries].sort((x, y) => x.id.localeCompare(y.id)));
    expect(strip(await rowsOf(hexPack.id))).toEqual(strip(await rowsOf(bufPack.id)));
    const [packRow] = await w.database.db.select().from(schema.packs).where(eq(schema.packs.packId, hexPack.id));
    expect(packRow).toMatchObject({ size: 1000, blobCount: 3, state: "indexed" });
    const orphan = chunkId();
    await expect(new PgIndex(w.database.db, scope()).indexReported({ id: chunkId(), salt: randomBytes(32), size: 1000, columns: packColumns([{ ...entries[0]!, id: orphan }, { ...entries[1]!, id: "zz'}" }]) })).rejects.toThrow(/not a chunk id/);
    expect(await new PgIndex(w.database.db, scope()).missing([orphan])).toEqual([orphan]);
  });

  it("chunks in a condemned pack are not usable until re-uploaded, and then move to the new pack", async () => {
    const ids = [chunkId(), chunkId()];
    const old = await putPack(w, w.a1);
    await call(w, "packs", { credential: m.credential, body: packReport(old, ids) });
    await w.database.db.update(schema.packs).set({ state: "condemned" }).where(eq(schema.packs.packId, old.packId));
    expect((await new PgIndex(w.database.db, scope()).missing(ids)).sort()).toEqual([...ids].sort());
    const idx = new PgIndex(w.database.db, scope());
    await idx.load(ids);
    expect(idx.has(ids[0]!)).toBe(true);
    expect(idx.usable(ids[0]!)).toBe(false);

    const fresh = await putPack(w, w.a1);
    await call(w, "packs", { credential: m.credential, body: packReport(fresh, [ids[0]!]) });
    const after = new PgIndex(w.database.db, scope());
    expect(await after.missing(ids)).toEqual([ids[1]]);
    await after.load(ids);
    expect(after.lookup(ids[0]!)!.pack).toBe(fresh.packId);
    expect(after.lookup(ids[1]!)!.pack).toBe(old.packId);
  });
});

describe("customer repository", () => {
  it("recovers the data key from the container when an earlier enrolment initialised it and then rolled back", async () => {
    const [c] = await w.database.db.insert(schema.customers).values({ mspId: w.mspId, name: "Rolled back" }).returning();
    const s = { mspId: w.mspId, customerId: c!.id };
    let firstKey: Buffer | undefined;
    await expect(
      w.database.db.transaction(async (tx) => {
        firstKey = (await ensureCustomerRepository(tx, w.svc.kek, w.svc.blobs, s)).dataKey;
        throw new Error("simulated failure after init");
      }),
    ).rejects.toThrow(/simulated/);
    expect(await customerDataKey(w.database.db, w.svc.kek, s)).toBeNull();
    const again = await enroll(w, c!.id, "late");
    expect(again.dataKey).toBe(firstKey!.toString("base64"));
    const repo = await Repository.open(w.svc.blobs.container(c!.id).store, { kek: w.svc.kek.key });
    expect(repo.config.id).toBe(again.repository.config.id);
    await repo.close();
  });

  it("a wrapped key does not open under another customer's id or another KEK", async () => {
    const { wrapDataKey, unwrapDataKey, kekFrom } = await import("../src");
    const k = randomBytes(32);
    const wrapped = wrapDataKey(w.svc.kek, w.a1, k);
    expect(unwrapDataKey(w.svc.kek, w.a1, wrapped).equals(k)).toBe(true);
    expect(() => unwrapDataKey(w.svc.kek, w.a2, wrapped)).toThrow(/does not unwrap/);
    expect(() => unwrapDataKey(kekFrom(randomBytes(32)), w.a1, wrapped)).toThrow(/does not unwrap/);
  });
});
