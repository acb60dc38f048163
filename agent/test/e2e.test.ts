/**
 * The real agent process against the real server side of the agent API
 * (`serveAgentApi` over PostgreSQL and in-process Azurite), behind a fault
 * proxy: capture → spool → upload → commit, with faults. Assertions read the
 * server's rows. No test uses the protocol stand-in (test/fake-server.ts): only
 * the idle benchmark does.
 */
import { mkdir, readFile, readdir, stat, unlink, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { startAzurite } from "@tidemark/storage/testing";
import { schema } from "@tidemark/db";
import { createRestoreJob, customerDataKey, revokeMachine } from "@tidemark/backup";
import { issueToken } from "@tidemark/backup/testing";
import { execFileSync, spawn } from "node:child_process";
import { packReportEntries, type PackReport } from "@tidemark/agent-protocol";
import { openBlob, packKeyName, parseTrailer, Repository } from "../src/engine";
import { BUNDLE, cli, readTree, removeTmp, restorePoint, startAgent, stopAgent, tmp, waitFor, type AgentProc } from "./helpers";
import { committed, events, newCustomer, restoreJobRow, setPolicy, startRealServer, type RealServer, type TestPolicy } from "./real-server";

/** Root reads everything: the unreadable-file test runs the agent as uid 65534, which must reach the checkout. */
function nobodyCanRun(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(BUNDLE.replace(/dist\/.*$/, "src/main.ts"))}, 4)`], { uid: 65534, gid: 65534, stdio: "ignore" });
    return true;
  } catch {
    console.warn("skipping the unreadable-file test: uid 65534 cannot read this checkout");
    return false;
  }
}

let srv: RealServer;
let azuriteDir: string;
const running: AgentProc[] = [];

beforeAll(async () => {
  azuriteDir = await tmp("azurite");
  srv = await startRealServer(azuriteDir);
});
afterAll(async () => {
  for (const a of running) await stopAgent(a);
  await srv?.stop();
  await removeTmp();
});

let customers = 0;
type Machine = { watched: string; stateDir: string; customerId: string; machineId: string; scope: { mspId: string; customerId: string } };

/** A fresh customer whose default policy watches a new folder, and one machine enrolled in it. */
async function setup(policy: TestPolicy = {}, opts: { customerId?: string; name?: string } = {}): Promise<Machine> {
  const { w } = srv;
  const watched = await tmp("watched");
  const stateDir = join(await tmp("state"), "agent");
  const customerId = opts.customerId ?? (await newCustomer(w, `Customer ${++customers}`));
  if (!opts.customerId) await setPolicy(w, { customerId }, { includePaths: [watched], ...policy });
  const e = await cli(["enroll", "--server", srv.url, `--token=${await issueToken(w, customerId)}`, "--name", opts.name ?? "test-machine", "--state-dir", stateDir]);
  expect(e.code, e.out).toBe(0);
  const { machineId } = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")) as { machineId: string };
  return { watched, stateDir, customerId, machineId, scope: { mspId: w.mspId, customerId } };
}

function run(stateDir: string, opts: { bundle?: boolean; uid?: number; args?: string[] } = {}) {
  const a = startAgent(stateDir, opts.args ?? [], opts);
  running.push(a);
  return a;
}

const points = (m: Machine) => committed(srv.w, m.machineId);
const lastPoint = async (m: Machine) => (await points(m)).at(-1);
const store = (customerId: string) => srv.w.svc.blobs.container(customerId).store;

/** The files of `watched` inside a restored point (the engine reading the customer's container). */
async function restoredFiles(m: Machine, snapshotId: string) {
  const target = await restorePoint(store(m.customerId), srv.w.svc.kek.key, snapshotId);
  return readTree(join(target, m.watched));
}

async function stopAzurite(): Promise<number> {
  const port = srv.w.azurite.port;
  await srv.w.azurite.stop();
  return port;
}
async function restartAzurite(port: number) {
  srv.w.azurite = await startAzurite({ location: azuriteDir, port });
}

describe("agent end to end (real server: serveAgentApi + PostgreSQL + Azurite)", () => {
  it("enrolls with owner-only state and the customer's key; refuses a used token", async () => {
    const token = await issueToken(srv.w, await newCustomer(srv.w, "Enrol Co"));
    const stateDir = join(await tmp("state"), "agent");
    const e = await cli(["enroll", "--server", srv.url, `--token=${token}`, "--name", "enrol-01", "--state-dir", stateDir]);
    expect(e.code, e.out).toBe(0);
    expect((await stat(join(stateDir, "machine.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const machine = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8"));
    const key = await customerDataKey(srv.w.database.db, srv.w.svc.kek, { mspId: srv.w.mspId, customerId: machine.customerId });
    expect(machine.dataKey).toBe(key!.toString("base64"));
    const again = await cli(["enroll", "--server", srv.url, `--token=${token}`, "--state-dir", join(stateDir, "..", "other")]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/401|token/);
  });

  it("captures changes into committed points within rpo + a few seconds; change and delete make new points; restores byte-identical (engine and restore job)", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    await writeFile(join(watched, "a.txt"), "first version of a");
    // Spool maintenance after every point: later points must not notice it.
    const agent = run(stateDir, { args: ["--maintain-every", "1"] });
    // The start scan commits the initial state.
    await waitFor("initial point", async () => (await points(m)).length >= 1, 30_000, agent);
    const firstCount = (await points(m)).length;

    const big = randomBytes(300_000);
    await mkdir(join(watched, "sub"));
    await writeFile(join(watched, "sub", "b.bin"), big);
    const t0 = Date.now();
    const p2 = await waitFor("point with b.bin", async () => { const c = await points(m); return c.length > firstCount && c.at(-1); }, 5_000 + 8_000, agent);
    expect(Date.now() - t0).toBeLessThan(5_000 + 8_000);

    await writeFile(join(watched, "a.txt"), "second version of a, longer");
    await unlink(join(watched, "sub", "b.bin"));
    const n2 = (await points(m)).length;
    const p3 = await waitFor("point after change+delete", async () => { const c = await points(m); return c.length > n2 && c.at(-1); }, 15_000, agent);

    const r2 = await restoredFiles(m, p2.snapshotId);
    expect(r2.get("a.txt")).toBe(Buffer.from("first version of a").toString("base64"));
    expect(r2.get("sub/b.bin")).toBe(big.toString("base64"));
    const r3 = await restoredFiles(m, p3.snapshotId);
    expect(r3.get("a.txt")).toBe(Buffer.from("second version of a, longer").toString("base64"));
    expect(r3.has("sub/b.bin")).toBe(false);
    expect(p3.consistency).toBe("crash");
    // The earlier point also restores through a real restore job executed by the agent.
    const folder = await tmp("restore-job");
    const job = await srv.w.database.db.transaction((tx) => createRestoreJob(tx as never, m.scope, { machineId: m.machineId, recoveryPointId: p2.pointId, paths: [join(watched, "sub")], destination: { kind: "folder", path: folder }, conflict: "overwrite" }));
    await waitFor("restore job done", async () => (await restoreJobRow(srv.w, job.id)).state === "succeeded", 30_000, agent);
    expect((await readFile(join(folder, "sub", "b.bin"))).equals(big)).toBe(true);
    expect(agent.output()).toMatch(/spool maintenance: [1-9]\d* tree pack\(s\) trimmed/);
    // Heartbeats and events reached the server; status reflects the last point.
    const [ma] = await srv.w.database.db.select().from(schema.machineAgents).where(eq(schema.machineAgents.machineId, m.machineId));
    expect(ma!.lastHeartbeatAt).toBeTruthy();
    await waitFor("committed event", async () => (await events(srv.w, m.machineId)).some((e) => e.kind === "point-committed"), 5_000, agent);
    const st = await cli(["status", "--state-dir", stateDir]);
    expect(st.out).toContain("test-machine");
    await stopAgent(agent);
    expect(agent.child.exitCode).toBe(0);
  }, 90_000);

  it("two machines of one customer: a file both hold is stored once (chunk_index / packs rows)", async () => {
    const m1 = await setup();
    const m2 = await setup({}, { customerId: m1.customerId, name: "second-machine" });
    await setPolicy(srv.w, { customerId: m1.customerId, machineId: m2.machineId }, { includePaths: [m2.watched] });
    const shared = randomBytes(4 * 1024 * 1024);
    await writeFile(join(m1.watched, "shared.bin"), shared);
    await writeFile(join(m2.watched, "shared-copy.bin"), shared);
    const a1 = run(m1.stateDir);
    await waitFor("first machine's point", () => lastPoint(m1), 30_000, a1);
    const a2 = run(m2.stateDir);
    // Enrolled under the customer's default policy, the agent may take a first point of that before
    // its heartbeat brings the machine's own policy: wait for a point of its own folder.
    const p2 = await waitFor("second machine's point", async () => (await points(m2)).find((p) => p.sources.includes(m2.watched)), 30_000, a2);
    const packs = await srv.w.database.db.select().from(schema.packs).where(eq(schema.packs.customerId, m1.customerId));
    const stored = packs.reduce((n, p) => n + p.size, 0);
    // 8 MiB protected (incompressible), one copy stored: only trees besides.
    expect(stored).toBeGreaterThan(shared.length);
    expect(stored).toBeLessThan(shared.length * 1.2);
    const [{ data }] = (await srv.w.database.db
      .select({ data: sql<number>`count(*)::int` })
      .from(schema.chunkIndex)
      .where(sql`${schema.chunkIndex.customerId} = ${m1.customerId} and ${schema.chunkIndex.type} = 0`)) as [{ data: number }];
    expect(data).toBeGreaterThan(0);
    // Every data chunk sits in a pack the first machine uploaded.
    const bySecond = packs.filter((p) => p.uploadedByMachineId === m2.machineId);
    const dataInSecond = bySecond.length
      ? ((await srv.w.database.db.execute(sql`select count(*)::int as n from chunk_index where customer_id = ${m1.customerId} and type = 0 and pack_id in (${sql.join(bySecond.map((p) => sql`${p.packId}`), sql`, `)})`)) as unknown as Array<{ n: number }>)[0]!.n
      : 0;
    expect(dataInSecond).toBe(0);
    expect((await restoredFiles(m2, p2.snapshotId)).get("shared-copy.bin")).toBe(shared.toString("base64"));
    await stopAgent(a1);
    await stopAgent(a2);
  }, 90_000);

  it("keeps capturing while Azure is down; points commit after it returns and nothing is lost", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    await writeFile(join(watched, "before.txt"), "before the outage");
    const agent = run(stateDir);
    await waitFor("initial point", async () => (await points(m)).length >= 1, 30_000, agent);
    const port = await stopAzurite();
    const during = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const b = randomBytes(50_000 + i);
      during.set(`outage-${i}.bin`, b);
      await writeFile(join(watched, `outage-${i}.bin`), b);
      // rpo is 5 s: spaced writes make several spooled points, not one.
      await new Promise((r) => setTimeout(r, 5_000));
    }
    expect(await points(m)).toHaveLength(1);
    // Capture went on: points are spooled locally, waiting for Azure.
    expect((await readdir(join(stateDir, "queue"))).length).toBeGreaterThan(0);
    await restartAzurite(port);
    await waitFor("queue drained", async () => (await readdir(join(stateDir, "queue"))).length === 0, 60_000, agent);
    const final = (await lastPoint(m))!;
    expect((await points(m)).length).toBeGreaterThan(1);
    const files = await restoredFiles(m, final.snapshotId);
    for (const [name, b] of during) expect(files.get(name), name).toBe(b.toString("base64"));
    expect(files.get("before.txt")).toBe(Buffer.from("before the outage").toString("base64"));
    await waitFor("upload-retry event", async () => (await events(srv.w, m.machineId)).some((e) => e.kind === "upload-retry"), 10_000, agent);
    await stopAgent(agent);
  }, 120_000);

  it("killed with SIGKILL mid-upload and restarted: resumes without re-uploading stored chunks", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    srv.proxy.packDelayMs = 400;
    try {
      // The customer's repository packs are 16 MiB: 36 MiB of incompressible data make several.
      const data = randomBytes(36 * 1024 * 1024);
      await writeFile(join(watched, "big.bin"), data);
      const reported = () => srv.proxy.ok("POST", /\/packs$/).map((c) => c.body as PackReport);
      const before0 = reported().length;
      const a1 = run(stateDir);
      await waitFor("first pack reported", () => reported().length > before0, 60_000, a1);
      a1.child.kill("SIGKILL");
      await a1.exited;
      expect(await points(m)).toHaveLength(0);
      const before = reported().length;
      const a2 = run(stateDir);
      const p = await waitFor("point after restart", () => lastPoint(m), 60_000, a2);
      // No chunk was reported twice in different packs: what was stored before the kill was not sent again.
      const mine = reported().slice(before0);
      // A repeated report of the same pack is allowed (idempotent); the same chunk in two packs is a re-upload.
      const byPack = new Map(mine.map((r) => [r.packId, packReportEntries(r).map((e) => e.id)]));
      const all = [...byPack.values()].flat();
      expect(new Set(all).size).toBe(all.length);
      expect(reported().length).toBeGreaterThan(before);
      const files = await restoredFiles(m, p.snapshotId);
      expect(files.get("big.bin")).toBe(data.toString("base64"));
      await stopAgent(a2);
    } finally {
      srv.proxy.packDelayMs = 0;
    }
  }, 120_000);

  it("a forged credential is fatal: the agent reports it and stops with exit code 3", async () => {
    const m = await setup();
    const path = join(m.stateDir, "machine.json");
    const j = JSON.parse(await readFile(path, "utf8"));
    j.machineSecret = randomBytes(32).toString("base64url");
    await writeFile(path, JSON.stringify(j));
    await chmod(path, 0o600);
    const agent = run(m.stateDir);
    const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r("still running"), 30_000))]);
    expect(code, agent.output()).toBe(3);
    const st = JSON.parse(await readFile(join(m.stateDir, "status.json"), "utf8"));
    expect(st.state).toBe("fatal");
    expect(st.lastError).toMatch(/credential/);
    expect(await points(m)).toHaveLength(0);
  }, 60_000);

  it("server unreachable (503, then dropped connections): capture goes on into the spool; points commit when it is back", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    await writeFile(join(watched, "one.txt"), "1");
    const agent = run(stateDir);
    await waitFor("initial point", async () => (await points(m)).length >= 1, 30_000, agent);
    try {
      srv.proxy.mode = "503";
      await writeFile(join(watched, "two.txt"), "2");
      await new Promise((r) => setTimeout(r, 4_000));
      srv.proxy.mode = "drop";
      await writeFile(join(watched, "three.txt"), "3");
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await points(m)).toHaveLength(1);
      const st = JSON.parse(await readFile(join(stateDir, "status.json"), "utf8"));
      expect(st.state).toBe("running");
    } finally {
      srv.proxy.mode = "pass";
    }
    const p = await waitFor("point after the server returns", async () => { const c = await points(m); return c.length >= 2 && c.at(-1)!.stats.files >= 3 && c.at(-1); }, 60_000, agent);
    const files = await restoredFiles(m, p.snapshotId);
    expect([...files.keys()].sort()).toEqual(["one.txt", "three.txt", "two.txt"]);
    // Heartbeats resumed and carried the outage as lastError.
    const hb = srv.proxy.ok("POST", /\/heartbeat$/).filter((c) => typeof (c.body as { lastError?: string }).lastError === "string");
    expect(hb.length).toBeGreaterThan(0);
    await stopAgent(agent);
  }, 90_000);

  it("a SAS Azure refuses (403, like an expired one) is replaced by a fresh upload session", async () => {
    const m = await setup();
    await writeFile(join(m.watched, "x.txt"), "x");
    const sessions = () => srv.proxy.ok("POST", /\/upload-session$/).length;
    const before = sessions();
    srv.proxy.corruptSas = 1;
    try {
      const agent = run(m.stateDir);
      const p = await waitFor("point", () => lastPoint(m), 40_000, agent);
      expect(srv.proxy.corruptSas).toBe(0);
      expect(sessions() - before).toBeGreaterThanOrEqual(2);
      expect((await restoredFiles(m, p.snapshotId)).get("x.txt")).toBe(Buffer.from("x").toString("base64"));
      await stopAgent(agent);
    } finally {
      srv.proxy.corruptSas = 0;
    }
  }, 60_000);

  it("the bundled one-file agent (dist/tidemark-agent.mjs) runs the same loop", async () => {
    const b = await new Promise<number | null>((res) => {
      const c = spawn(process.execPath, ["scripts/bundle.mjs"], { cwd: join(BUNDLE, "..", ".."), stdio: "ignore" });
      c.on("exit", res);
    });
    expect(b).toBe(0);
    const m = await setup();
    const data = randomBytes(200_000);
    await writeFile(join(m.watched, "bundled.bin"), data);
    const agent = run(m.stateDir, { bundle: true });
    const p = await waitFor("point from the bundle", () => lastPoint(m), 30_000, agent);
    expect((await restoredFiles(m, p.snapshotId)).get("bundled.bin")).toBe(data.toString("base64"));
    await stopAgent(agent);
  }, 60_000);

  it("executes restore jobs: to another folder, and to the original place under overwrite / skip / keep-both", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    await mkdir(join(watched, "docs"));
    await writeFile(join(watched, "docs", "a.txt"), "A1");
    await writeFile(join(watched, "docs", "b.txt"), "B1");
    const agent = run(stateDir);
    const p1 = await waitFor("point", async () => (await points(m)).find((x) => x.stats.files >= 2), 30_000, agent);
    const addJob = (paths: string[], destination: { kind: "folder"; path: string } | { kind: "original" }, conflict: "overwrite" | "skip" | "keep-both") =>
      srv.w.database.db.transaction((tx) => createRestoreJob(tx as never, m.scope, { machineId: m.machineId, recoveryPointId: p1.pointId, paths, destination, conflict }));
    const finished = (id: string) => async () => { const r = await restoreJobRow(srv.w, id); return r.state !== "queued" && r.state !== "running" && r; };

    const folder = await tmp("restore-to");
    const j1 = await addJob([join(watched, "docs")], { kind: "folder", path: folder }, "overwrite");
    const r1 = await waitFor("restore to folder", finished(j1.id), 30_000, agent);
    expect(r1.state).toBe("succeeded");
    expect(r1.result).toEqual({ ok: true, restoredFiles: 2, failed: [] });
    expect(await readFile(join(folder, "docs", "a.txt"), "utf8")).toBe("A1");
    expect(srv.proxy.ok("POST", new RegExp(`/restore-jobs/${j1.id}/progress$`)).length).toBeGreaterThan(0);

    await writeFile(join(watched, "docs", "a.txt"), "A2");
    await writeFile(join(watched, "docs", "b.txt"), "B2");
    const j2 = await addJob([join(watched, "docs", "a.txt")], { kind: "original" }, "skip");
    await waitFor("skip", finished(j2.id), 30_000, agent);
    expect(await readFile(join(watched, "docs", "a.txt"), "utf8")).toBe("A2");
    const j3 = await addJob([join(watched, "docs", "a.txt")], { kind: "original" }, "overwrite");
    await waitFor("overwrite", finished(j3.id), 30_000, agent);
    expect(await readFile(join(watched, "docs", "a.txt"), "utf8")).toBe("A1");
    const j4 = await addJob([join(watched, "docs", "b.txt")], { kind: "original" }, "keep-both");
    await waitFor("keep-both", finished(j4.id), 30_000, agent);
    const names = (await readdir(join(watched, "docs"))).sort();
    expect(names).toHaveLength(3);
    expect(await readFile(join(watched, "docs", "b.txt"), "utf8")).toBe("B2");
    const kept = names.find((n) => n.startsWith("b (restored "))!;
    expect(await readFile(join(watched, "docs", kept), "utf8")).toBe("B1");
    expect(names.some((n) => n.startsWith(".tidemark-restore"))).toBe(false);

    const bad = await addJob([join(watched, "nope")], { kind: "folder", path: folder }, "overwrite");
    const rb = await waitFor("failed job", finished(bad.id), 30_000, agent);
    expect(rb.state).toBe("failed");
    expect((rb.result as { ok: boolean; failed: Array<{ error: string }> }).ok).toBe(false);
    expect((rb.result as { failed: Array<{ error: string }> }).failed[0]!.error).toMatch(/not found/);
    await new Promise((r) => setTimeout(r, 500));
    // No progress or result reached the server after a job had finished.
    expect(srv.proxy.calls.filter((c) => /\/restore-jobs\//.test(c.path) && c.status === 409)).toEqual([]);
    await stopAgent(agent);
  }, 90_000);

  it("images a volume (an image file) on its own interval; later file points carry it; it restores byte-identical", async () => {
    const imgDir = await tmp("vol");
    const img = join(imgDir, "disk.img");
    const image = Buffer.alloc(2 * 1024 * 1024);
    randomBytes(300_000).copy(image, 100_000);
    await writeFile(img, image);
    const m = await setup({ volumes: [img] });
    await writeFile(join(m.watched, "f.txt"), "1");
    const agent = run(m.stateDir);
    const p1 = await waitFor("point with the volume", async () => (await points(m)).find((x) => x.volumes.length === 1), 30_000, agent);
    expect(p1.volumes[0]!.source).toBe(img);
    await writeFile(join(m.watched, "f.txt"), "2");
    const p2 = await waitFor("file point", async () => { const c = await points(m); return c.length >= 2 && c.at(-1); }, 20_000, agent);
    // Not re-imaged (the server's policy interval is the default hour), but still part of the point: every point is complete.
    expect(p2.volumes[0]!.map).toBe(p1.volumes[0]!.map);
    const { Repository, restoreVolume } = await import("../src/engine");
    const repo = await Repository.open(store(m.customerId), { kek: srv.w.svc.kek.key });
    const out = join(imgDir, "restored.img");
    const r = await restoreVolume(repo, await repo.loadSnapshot(p2.snapshotId), "disk.img", out);
    await repo.close();
    expect(r.failures).toEqual([]);
    expect((await readFile(out)).equals(image)).toBe(true);
    await stopAgent(agent);
  }, 60_000);

  it.runIf(nobodyCanRun())("an unreadable file is recorded in the point and reported as an event, not fatal (agent as an unprivileged user)", async () => {
    const m = await setup();
    const { watched, stateDir } = m;
    await writeFile(join(watched, "ok.txt"), "fine");
    await writeFile(join(watched, "secret.txt"), "root only");
    await chmod(join(watched, "secret.txt"), 0o000);
    const { chown } = await import("node:fs/promises");
    execFileSync("chown", ["-R", "65534:65534", join(stateDir, ".."), watched]);
    await chown(join(watched, "secret.txt"), 0, 0);
    const agent = run(stateDir, { uid: 65534 });
    const p = await waitFor("point", () => lastPoint(m), 40_000, agent);
    expect(p.errors).toEqual([{ path: join(watched, "secret.txt"), error: "EACCES" }]);
    const ev = await waitFor("unreadable-file event", async () => (await events(srv.w, m.machineId)).find((e) => e.kind === "unreadable-file"), 10_000, agent);
    expect(ev.path).toBe(join(watched, "secret.txt"));
    const files = await restoredFiles(m, p.snapshotId);
    expect(files.get("ok.txt")).toBe(Buffer.from("fine").toString("base64"));
    expect(files.has("secret.txt")).toBe(false);
    await stopAgent(agent);
  }, 60_000);

  it("a machine revoked while running (revokeMachine): the next call is refused and the agent stops with exit code 3", async () => {
    const m = await setup();
    await writeFile(join(m.watched, "a.txt"), "a");
    const agent = run(m.stateDir);
    await waitFor("point", async () => (await points(m)).length >= 1, 30_000, agent);
    expect(await srv.w.database.db.transaction((tx) => revokeMachine(tx as never, m.scope, m.machineId))).toBe(true);
    const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
    expect(code, agent.output()).toBe(3);
    expect(JSON.parse(await readFile(join(m.stateDir, "status.json"), "utf8")).state).toBe("fatal");
  }, 60_000);

  it("the spool is bounded: with Azure down and the spool full, capture pauses (changes kept) and resumes after uploads drain", async () => {
    const m = await setup({ spoolLimitBytes: 16 * 1024 * 1024 });
    const { watched, stateDir } = m;
    await writeFile(join(watched, "small.txt"), "s");
    const agent = run(stateDir);
    await waitFor("initial point", async () => (await points(m)).length >= 1, 30_000, agent);
    const port = await stopAzurite();
    const big = randomBytes(20 * 1024 * 1024);
    await writeFile(join(watched, "big.bin"), big);
    // The agent writes queue items temp-then-rename and removes them once uploaded: skip temp names and vanished items.
    const readItem = (n: string) => readFile(join(stateDir, "queue", n), "utf8").then((t) => JSON.parse(t) as { kind: string }, () => null);
    const queuedPoints = async () => (await Promise.all((await readdir(join(stateDir, "queue"))).filter((n) => n.endsWith(".json")).map(readItem))).filter((i) => i?.kind === "point").length;
    try {
      await waitFor("big point spooled", async () => (await queuedPoints()) === 1, 30_000, agent);
      await writeFile(join(watched, "later.txt"), "written while the spool is full");
      await waitFor("spool-full event", async () => (await events(srv.w, m.machineId)).some((e) => e.kind === "spool-full"), 20_000, agent);
      expect(await queuedPoints()).toBe(1);
    } finally {
      await restartAzurite(port);
    }
    const p = await waitFor("point with later.txt", async () => (await points(m)).find((x) => x.stats.files === 3), 60_000, agent);
    const files = await restoredFiles(m, p.snapshotId);
    expect(files.get("big.bin")).toBe(big.toString("base64"));
    expect(files.get("later.txt")).toBe(Buffer.from("written while the spool is full").toString("base64"));
    await stopAgent(agent);
  }, 120_000);
  it("hooks from the server's policy: a pre-freeze timeout leaves the point crash-consistent and post-thaw still runs; a good hook makes it application-consistent", async () => {
    const marker = join(await tmp("hook"), "thawed");
    const m = await setup({ preFreezeCommand: "sleep 30", postThawCommand: `echo thawed >> ${marker}`, hookTimeoutSeconds: 1 });
    await writeFile(join(m.watched, "f.txt"), "x");
    const agent = run(m.stateDir);
    const p = await waitFor("point", () => lastPoint(m), 30_000, agent);
    expect(p.consistency).toBe("crash");
    expect(await readFile(marker, "utf8")).toContain("thawed");
    await waitFor("hook-failed event", async () => (await events(srv.w, m.machineId)).some((e) => e.kind === "hook-failed" && /timed out/.test(e.message)), 10_000, agent);

    await setPolicy(srv.w, { customerId: m.customerId }, { preFreezeCommand: "true" });
    // The new policy reaches the agent with its next heartbeat (ETag change).
    await waitFor("policy fetched", () => agent.output().includes("policy updated"), 10_000, agent);
    await writeFile(join(m.watched, "f.txt"), "y");
    const n = (await points(m)).length;
    const p2 = await waitFor("application-consistent point", async () => { const c = await points(m); return c.length > n && c.at(-1); }, 20_000, agent);
    expect(p2.consistency).toBe("application");
    expect((await restoredFiles(m, p2.snapshotId)).get("f.txt")).toBe(Buffer.from("y").toString("base64"));
    await stopAgent(agent);
  }, 90_000);

  it("self-heal: a chunk the server reports bad (heartbeat healChunkIds) is re-read and uploaded again into a new pack, though the agent's cache knew it", async () => {
    const m = await setup();
    const data = randomBytes(300_000);
    await writeFile(join(m.watched, "heal.bin"), data);
    await writeFile(join(m.watched, "other.txt"), "untouched");
    const agent = run(m.stateDir);
    await waitFor("first point", () => lastPoint(m), 30_000, agent);
    const db = srv.w.database.db;
    const ci = schema.chunkIndex;
    const dataChunks = await db.select().from(ci).where(sql`${ci.customerId} = ${m.customerId} and ${ci.type} = 0`);
    // heal.bin is the only file above the chunker's minimum: its chunks are the big ones.
    const victim = dataChunks.sort((a, b) => b.rawLength - a.rawLength)[0]!;
    const victimId = victim.chunkId.toString("hex");
    const oldPack = victim.packId;
    // What the verification side does on finding a corrupt pack: the stored bytes are bad, the
    // entry is unindexed (chunks/missing and commit now treat it as missing), a bad_chunks row is open.
    const packBytes = await store(m.customerId).get(packKeyName(oldPack));
    packBytes[victim.offset + 20]! ^= 0xff;
    await store(m.customerId).put(packKeyName(oldPack), packBytes);
    await db.delete(ci).where(sql`${ci.customerId} = ${m.customerId} and ${ci.chunkId} = ${victim.chunkId}`);
    await db.insert(schema.badChunks).values({ mspId: srv.w.mspId, customerId: m.customerId, chunkId: victim.chunkId, packId: oldPack, reason: "corrupt" });
    const before = (await points(m)).length;

    const carrying = () => srv.proxy.ok("POST", /\/packs$/).map((c) => c.body as PackReport).filter((r) => packReportEntries(r).some((e) => e.id === victimId));
    expect(carrying().map((r) => r.packId)).toEqual([oldPack]);
    const healed = await waitFor("the chunk reported in a new pack", () => carrying().find((r) => r.packId !== oldPack), 30_000, agent);
    const p = await waitFor("a point after the heal", async () => { const c = await points(m); return c.length > before && c.at(-1); }, 30_000, agent);
    const [row] = await db.select().from(ci).where(sql`${ci.customerId} = ${m.customerId} and ${ci.chunkId} = ${victim.chunkId}`);
    expect(row!.packId).toBe(healed.packId);
    // The new copy opens (authenticated, id verified) at the offset the server indexed, and is heal.bin's data.
    const repo = await Repository.open(store(m.customerId), { kek: srv.w.svc.kek.key });
    const fresh = await store(m.customerId).get(packKeyName(healed.packId));
    const parsed = parseTrailer(repo.keys, healed.packId, fresh);
    const blob = parsed.blobs.find((b) => b.id.toString("hex") === victimId)!;
    expect(blob.offset).toBe(row!.offset);
    expect(data.includes(openBlob(repo.keys, healed.packId, parsed.key, blob, fresh.subarray(blob.offset, blob.offset + blob.length)))).toBe(true);
    expect(p.stats.files).toBe(2);
    // Heartbeats keep naming the id until the server marks it healed: the agent does not upload it again meanwhile.
    const hb = srv.proxy.ok("POST", /\/heartbeat$/).length;
    await waitFor("two more heartbeats", () => srv.proxy.ok("POST", /\/heartbeat$/).length >= hb + 2, 10_000, agent);
    expect(carrying()).toHaveLength(2);
    // Only heal.bin was re-read: the untouched small file was reused from the previous point.
    expect(p.stats.readBytes).toBe(data.length);
    // Restore to the machine after the heal: the container's index objects now list the chunk in the
    // corrupt pack and in the new one, and a restore job loads them in no fixed order, so either copy
    // can be its first choice; a failed copy must fall back to the other (the engine test
    // force-upload.test.ts pins the corrupt-first order). Two jobs, two fresh index loads.
    for (const attempt of [1, 2]) {
      const folder = await tmp(`heal-restore-${attempt}`);
      const job = await db.transaction((tx) => createRestoreJob(tx as never, m.scope, { machineId: m.machineId, recoveryPointId: p.pointId, paths: [join(m.watched, "heal.bin")], destination: { kind: "folder", path: folder }, conflict: "overwrite" }));
      const done = await waitFor("restore job after heal", async () => { const r = await restoreJobRow(srv.w, job.id); return r.state !== "queued" && r.state !== "running" && r; }, 30_000, agent);
      expect(done.result).toEqual({ ok: true, restoredFiles: 1, failed: [] });
      expect((await readFile(join(folder, "heal.bin"))).equals(data)).toBe(true);
    }
    await stopAgent(agent);
  }, 90_000);
});
