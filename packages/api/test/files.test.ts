/**
 * Browsing, searching, versions, downloads and restore requests over a REAL
 * repository: the engine backs a folder up into customer A1's container on
 * Azurite, its packs are indexed in PostgreSQL, and everything is read back
 * through the procedures and the download handler, byte for byte.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBlobAccount, kekFrom } from "@tidemark/backup";
import { type ProtectedPoint, protectFolder } from "@tidemark/backup/testing";
import { schema } from "@tidemark/db";
import { azuriteConnectionString, type AzuriteHandle, startAzurite } from "@tidemark/storage/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDownload } from "../src";
import { pgStack, type Person, refused, seedWorld, type World } from "./fixtures";

let stack: Awaited<ReturnType<typeof pgStack>>;
let azurite: AzuriteHandle;
let w: World;
let src: string;
let work: string;
let p1: ProtectedPoint;
let p2: ProtectedPoint;
const big = randomBytes(3 * 1024 * 1024 + 17);
const kek = kekFrom(randomBytes(32));

function download(who: Person | null, query: Record<string, string>): Promise<Response> {
  const headers = who ? who.client.headers() : new Headers();
  return handleDownload(new Request(`http://portal.test/api/files/download?${new URLSearchParams(query)}`, { headers }), stack.services, () => {});
}

beforeAll(async () => {
  [stack, azurite] = await Promise.all([pgStack(), startAzurite({ inMemory: true })]);
  const blobs = createBlobAccount({ connectionString: azuriteConnectionString(azurite.blobEndpoint) });
  stack.services.repositories = async () => ({ kek, blobs });
  w = await seedWorld(stack);
  // The seeded row has no repository behind it: this suite's machine holds real points only.
  await stack.database.db.delete(schema.recoveryPoints).where(eq(schema.recoveryPoints.id, w.a1Point.id));
  work = await mkdtemp(join(tmpdir(), "tm-api-files-"));
  src = join(work, "shares");
  await mkdir(join(src, "docs", "deep"), { recursive: true });
  await writeFile(join(src, "docs", "report.txt"), "version one\n");
  await writeFile(join(src, "docs", "deep", "Invoice-2026.pdf"), "%PDF fake\n".repeat(500));
  await writeFile(join(src, "big.bin"), big);
  await writeFile(join(src, "naïve name.txt"), "unicode\n");
  const scope = { mspId: w.mspA.id, customerId: w.a1.id };
  p1 = await protectFolder({ db: stack.database.db, kek, blobs, scope, machineId: w.a1Machine.id, paths: [src], time: new Date(Date.now() - 120_000) });
  await writeFile(join(src, "docs", "report.txt"), "version two, longer\n");
  await rm(join(src, "naïve name.txt"));
  p2 = await protectFolder({ db: stack.database.db, kek, blobs, scope, machineId: w.a1Machine.id, paths: [src], time: new Date(Date.now() - 60_000) });
}, 120_000);

afterAll(async () => {
  await stack?.database.drop();
  await azurite?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("recovery points and files over a real repository", () => {
  // The engine records each source under its full path (tmp/…/shares), so restores can find the original location.
  const root = () => src.replace(/^\/+/, "");

  it("points.list / points.get show the timeline and a point's details", async () => {
    const points = await w.techA.caller.points.list({ machineId: w.a1Machine.id });
    expect(points.map((p) => p.id)).toEqual([p2.pointId, p1.pointId]);
    const ranged = await w.techA.caller.points.list({ machineId: w.a1Machine.id, from: new Date(p1.time.getTime() - 1), to: new Date(p1.time.getTime() + 1) });
    expect(ranged.map((p) => p.id)).toEqual([p1.pointId]);
    const d = await w.a1User.caller.points.get({ pointId: p2.pointId });
    expect(d).toMatchObject({ id: p2.pointId, consistency: "crash", sources: [src], errors: [] });
    expect(d.stats.files).toBe(3);
    const d1 = await w.a1User.caller.points.get({ pointId: p1.pointId });
    expect(d1.stats.newBytes).toBeGreaterThan(big.length - 1);
    expect(d.stats.newBytes).toBeLessThan(10_000); // report.txt and the trees above it, not big.bin again
    const bad = await refused(w.techA.caller.points.list({ machineId: w.a1Machine.id, from: new Date(), to: new Date(0) }), ["BAD_REQUEST"]);
    expect(bad.message).toContain("from must not be after to");
  });

  it("points.changes lists what was added, modified and deleted since the previous point, without reading unchanged subtrees", async () => {
    const first = await w.a1User.caller.points.changes({ pointId: p1.pointId });
    expect(first.firstPoint).toBe(true);
    expect([first.added, first.modified, first.deleted]).toEqual([4, 0, 0]);
    const second = await w.a1User.caller.points.changes({ pointId: p2.pointId });
    expect(second.firstPoint).toBe(false);
    expect(second.changes.map((c) => [c.change, c.path]).sort()).toEqual([
      ["deleted", `${root()}/naïve name.txt`],
      ["modified", `${root()}/docs/report.txt`],
    ]);
    const limited = await w.a1User.caller.points.changes({ pointId: p1.pointId, limit: 1 });
    expect(limited).toMatchObject({ added: 4, truncated: true });
    expect(limited.changes).toHaveLength(1);
  });

  it("files.list lazily lists one level, directories first", async () => {
    const top = await w.a1User.caller.files.list({ pointId: p1.pointId, path: "" });
    expect(top.entries.map((e) => [e.name, e.type])).toEqual([[root().split("/")[0], "dir"]]);
    const level = await w.a1User.caller.files.list({ pointId: p1.pointId, path: root() });
    expect(level.entries.map((e) => e.name)).toEqual(["docs", "big.bin", "naïve name.txt"]);
    expect(level.entries.find((e) => e.name === "big.bin")).toMatchObject({ size: big.length, path: `${root()}/big.bin`, type: "file" });
    const after = await w.a1User.caller.files.list({ pointId: p2.pointId, path: root() });
    expect(after.entries.map((e) => e.name)).toEqual(["docs", "big.bin"]);
    const missing = await refused(w.a1User.caller.files.list({ pointId: p1.pointId, path: `${root()}/nope` }), ["NOT_FOUND"]);
    expect(missing.message).toBe(`Path not found in this recovery point: /${root()}/nope`);
    await refused(w.a1User.caller.files.list({ pointId: p1.pointId, path: `${root()}/../x` }), ["BAD_REQUEST"]);
    await refused(w.a1User.caller.files.list({ pointId: p1.pointId, path: `${root()}/big.bin` }), ["NOT_FOUND"]);
  });

  it("files.search finds names anywhere in the point, case-insensitively, with a limit", async () => {
    const found = await w.a1Admin.caller.files.search({ pointId: p1.pointId, query: "invoice" });
    expect(found).toEqual({ truncated: false, results: [expect.objectContaining({ path: `${root()}/docs/deep/Invoice-2026.pdf` })] });
    const all = await w.a1Admin.caller.files.search({ pointId: p1.pointId, query: "e", limit: 2 });
    expect(all.results).toHaveLength(2);
    expect(all.truncated).toBe(true);
    expect((await w.a1Admin.caller.files.search({ pointId: p2.pointId, query: "naïve" })).results).toEqual([]);
    await refused(w.a1Admin.caller.files.search({ pointId: p1.pointId, query: "  " }), ["BAD_REQUEST"]);
  });

  it("files.versions follows a path across points and marks content changes", async () => {
    const report = await w.techA.caller.files.versions({ pointId: p2.pointId, path: `${root()}/docs/report.txt` });
    expect(report.map((v) => [v.pointId, v.entry.size, v.changed])).toEqual([
      [p2.pointId, "version two, longer\n".length, true],
      [p1.pointId, "version one\n".length, true],
    ]);
    const same = await w.techA.caller.files.versions({ pointId: p2.pointId, path: `${root()}/big.bin` });
    expect(same.map((v) => v.changed)).toEqual([false, true]);
    const gone = await w.techA.caller.files.versions({ pointId: p2.pointId, path: `${root()}/naïve name.txt` });
    expect(gone.map((v) => v.pointId)).toEqual([p1.pointId]);
  });

  it("downloads a file byte for byte (earlier and later versions), with its name", async () => {
    const res = await download(w.a1User, { pointId: p1.pointId, path: `${root()}/big.bin` });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(big.length));
    expect(res.headers.get("content-disposition")).toContain('filename="big.bin"');
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
    const v1 = await download(w.techA, { pointId: p1.pointId, path: `${root()}/docs/report.txt` });
    expect(await v1.text()).toBe("version one\n");
    const v2 = await download(w.techA, { pointId: p2.pointId, path: `${root()}/docs/report.txt` });
    expect(await v2.text()).toBe("version two, longer\n");
    const uni = await download(w.techA, { pointId: p1.pointId, path: `${root()}/naïve name.txt` });
    expect(uni.headers.get("content-disposition")).toContain("filename*=UTF-8''na%C3%AFve%20name.txt");
    const events = await stack.database.db.select().from(schema.auditEvents).where(eq(schema.auditEvents.action, "files.download"));
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(events[0]).toMatchObject({ customerId: w.a1.id, targetId: p1.pointId });
  });

  it("downloads a folder as a streamed zip that unpacks to the same bytes", async () => {
    const res = await download(w.a1Admin, { pointId: p1.pointId, path: `${root()}/docs` });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/zip");
    expect(res.headers.get("content-length")).toBeNull();
    const zip = join(work, "docs.zip");
    await writeFile(zip, Buffer.from(await res.arrayBuffer()));
    const out = join(work, "unzipped");
    execFileSync("unzip", ["-q", zip, "-d", out]);
    expect(await readFile(join(out, "docs", "report.txt"), "utf8")).toBe("version one\n");
    expect(await readFile(join(out, "docs", "deep", "Invoice-2026.pdf"), "utf8")).toBe("%PDF fake\n".repeat(500));
    // `unzip -t` checks every entry's CRC.
    expect(execFileSync("unzip", ["-t", zip]).toString()).toContain("No errors detected");

    const whole = await download(w.a1Admin, { pointId: p1.pointId, path: "" });
    const wholeZip = join(work, "whole.zip");
    await writeFile(wholeZip, Buffer.from(await whole.arrayBuffer()));
    const out2 = join(work, "whole");
    execFileSync("unzip", ["-q", wholeZip, "-d", out2]);
    expect((await readFile(join(out2, "recovery-point", root(), "big.bin"))).equals(big)).toBe(true);
    expect(whole.headers.get("content-disposition")).toMatch(/filename="recovery-point-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.zip"/);
  });

  it("refuses bad queries, anonymous callers and every other tenant (as not found)", async () => {
    expect((await download(w.a1User, { pointId: "nope" })).status).toBe(400);
    expect((await download(w.a1User, { pointId: p1.pointId, path: "a/../b" })).status).toBe(400);
    expect((await download(null, { pointId: p1.pointId, path: `${root()}/big.bin` })).status).toBe(401);
    for (const attacker of [w.ownerB, w.a2Admin]) {
      const res = await download(attacker, { pointId: p1.pointId, path: `${root()}/big.bin` });
      expect(res.status).toBe(404);
      const body = await res.text();
      expect(body).not.toContain("big.bin");
      expect(JSON.parse(body)).toEqual({ error: { message: "Recovery point not found" } });
    }
    // read_only staff hold no files.download permission.
    expect((await download(w.readOnlyA, { pointId: p1.pointId, path: `${root()}/big.bin` })).status).toBe(403);
    expect((await download(w.a1User, { pointId: p1.pointId, path: `${root()}/missing.txt` })).status).toBe(404);
  });

  it("a damaged chunk aborts the download instead of delivering wrong bytes", async () => {
    const blobs = (await stack.services.repositories!()).blobs;
    const store = blobs.container(w.a1.id).store;
    const [row] = await stack.database.db.select().from(schema.chunkIndex).where(eq(schema.chunkIndex.type, 0)).orderBy(schema.chunkIndex.length).limit(1);
    // Find the file holding that chunk by downloading everything once; then damage the pack and retry.
    const key = `data/${row!.packId.slice(0, 2)}/${row!.packId}`;
    const original = await store.get(key);
    const damaged = Buffer.from(original);
    damaged[row!.offset + 3] = damaged[row!.offset + 3]! ^ 0xff;
    await store.delete(key);
    await store.put(key, damaged);
    try {
      const res = await download(w.a1Admin, { pointId: p1.pointId, path: "" });
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
    } finally {
      await store.delete(key);
      await store.put(key, original);
    }
    const ok = await download(w.a1Admin, { pointId: p1.pointId, path: `${root()}/big.bin` });
    expect(Buffer.from(await ok.arrayBuffer()).equals(big)).toBe(true);
  });

  it("dashboard numbers and the machines table reflect the stored points", async () => {
    const storage = await w.a1Admin.caller.customers.storage({ customerId: w.a1.id });
    expect(storage.recoveryPoints).toBe(2);
    const logical = big.length + "version two, longer\n".length + 5000;
    expect(storage.protectedBytes).toBe(logical);
    // Random bytes do not compress: stored ≈ logical plus pack overhead, and the unchanged file was stored once for both points.
    expect(storage.storedBytes).toBeGreaterThan(big.length);
    expect(storage.storedBytes).toBeLessThan(big.length * 1.05);
    expect(storage.dedupRatio).toBeCloseTo(logical / storage.storedBytes, 5);
    expect(storage.machines).toBe(1);
    const machines = await w.a1Admin.caller.machines.protection({ customerId: w.a1.id });
    expect(machines).toHaveLength(1);
    // The latest point is a minute old against the default 60 s RPO: late (1.5× < age ≤ 3×) or ok, never missed.
    expect(machines[0]).toMatchObject({ id: w.a1Machine.id, name: "a1-srv", online: false, protectedBytes: logical });
    expect(["ok", "late"]).toContain(machines[0]!.rpo);
    expect(machines[0]!.storedBytes).toBe(storage.storedBytes);
    expect(storage.machinesAtRisk).toBe(1); // never heartbeated: offline
  });

  it("restores: a customer user may not restore to a machine; a customer admin may, and it is listed and cancellable", async () => {
    const input = { machineId: w.a1Machine.id, pointId: p1.pointId, paths: [`${root()}/docs/report.txt`], destination: "folder" as const, targetPath: "/srv/restore", conflict: "keepBoth" as const };
    const denied = await refused(w.a1User.caller.restores.create(input), ["FORBIDDEN"]);
    expect(denied.message).toMatch(/does not allow restores\.request/);
    await refused(w.a1Admin.caller.restores.create({ ...input, targetPath: "relative/dir" }), ["BAD_REQUEST"]);
    await refused(w.a1Admin.caller.restores.create({ ...input, paths: [] }), ["BAD_REQUEST"]);
    const job = await w.a1Admin.caller.restores.create(input);
    expect(job).toMatchObject({ state: "queued", destination: "/srv/restore", conflict: "keep-both", paths: [`/${root()}/docs/report.txt`] });
    const listed = await w.a1User.caller.restores.list({ machineId: w.a1Machine.id });
    expect(listed.map((j) => j.id)).toContain(job.id);
    await refused(w.a1User.caller.restores.cancel({ jobId: job.id }), ["FORBIDDEN"]);
    expect((await w.techA.caller.restores.cancel({ jobId: job.id })).state).toBe("cancelled");
    const again = await refused(w.techA.caller.restores.cancel({ jobId: job.id }), ["CONFLICT"]);
    expect(again.message).toBe("This restore job already cancelled");
  });

  it("revoking a machine is audited and shows in the machines table", async () => {
    await w.techA.caller.machines.revoke({ machineId: w.a1Machine.id });
    const [m] = await w.a1Admin.caller.machines.protection({ customerId: w.a1.id });
    expect(m!.revoked).toBe(true);
    await refused(w.a1Admin.caller.machines.revoke({ machineId: w.a1Machine.id }), ["FORBIDDEN"]);
  });
});
