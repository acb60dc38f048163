/**
 * The real agent process against the fake protocol server and a real
 * (in-process) Azurite: capture → spool → upload → commit, with faults.
 */
import { mkdir, readFile, rm, stat, unlink, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type AzuriteHandle } from "@tidemark/storage/testing";
import { FakeServer } from "./fake-server";
import { execFileSync, spawn } from "node:child_process";
import { BUNDLE, cli, readTree, removeTmp, restorePoint, startAgent, stopAgent, tmp, waitFor, type AgentProc } from "./helpers";

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

let azurite: AzuriteHandle;
let azuriteDir: string;
const running: AgentProc[] = [];

beforeAll(async () => {
  azuriteDir = await tmp("azurite");
  azurite = await startAzurite({ location: azuriteDir });
});
afterAll(async () => {
  for (const a of running) await stopAgent(a);
  await azurite?.stop();
  await removeTmp();
});

async function setup(policy: Record<string, unknown> = {}, opts: { packDelayMs?: number; badFirstSas?: boolean } = {}) {
  const watched = await tmp("watched");
  const stateDir = join(await tmp("state"), "agent");
  const server = await new FakeServer({ azureConnectionString: azurite.connectionString, blobEndpoint: azurite.blobEndpoint, policy: { rpoSeconds: 5, includePaths: [watched], ...policy }, ...opts }).start();
  const e = await cli(["enroll", "--server", server.url, "--token", server.newToken(), "--name", "test-machine", "--state-dir", stateDir]);
  expect(e.code, e.out).toBe(0);
  return { watched, stateDir, server };
}

function run(stateDir: string, opts: { bundle?: boolean; uid?: number; args?: string[] } = {}) {
  const a = startAgent(stateDir, opts.args ?? [], opts);
  running.push(a);
  return a;
}

/** The files of `watched` inside a restored point. */
async function restoredFiles(server: FakeServer, snapshotId: string, watched: string) {
  const target = await restorePoint(server, snapshotId, azurite.connectionString);
  return readTree(join(target, watched));
}

describe("agent end to end (fake server + Azurite)", () => {
  it("enrolls with owner-only state; refuses a used token", async () => {
    const { server, stateDir } = await setup();
    expect((await stat(join(stateDir, "machine.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const machine = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8"));
    expect(machine.dataKey).toBe(server.master.toString("base64"));
    const again = await cli(["enroll", "--server", server.url, "--token", "tok_used", "--state-dir", join(stateDir, "..", "other")]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/401|token/);
    await server.stop();
  });

  it("captures changes into committed points within rpo + a few seconds; change and delete make new points; restores byte-identical", async () => {
    const { watched, stateDir, server } = await setup();
    await writeFile(join(watched, "a.txt"), "first version of a");
    // Spool maintenance after every point: later points must not notice it.
    const agent = run(stateDir, { args: ["--maintain-every", "1"] });
    // The start scan commits the initial state.
    await waitFor("initial point", () => server.committed().length >= 1, 30_000, agent);
    const firstCount = server.committed().length;

    const big = randomBytes(300_000);
    await mkdir(join(watched, "sub"));
    await writeFile(join(watched, "sub", "b.bin"), big);
    const t0 = Date.now();
    const p2 = await waitFor("point with b.bin", () => server.committed().length > firstCount && server.committed().at(-1), 5_000 + 8_000, agent);
    const latency = Date.now() - t0;
    expect(latency).toBeLessThan(5_000 + 8_000);

    await writeFile(join(watched, "a.txt"), "second version of a, longer");
    await unlink(join(watched, "sub", "b.bin"));
    const n2 = server.committed().length;
    const p3 = await waitFor("point after change+delete", () => server.committed().length > n2 && server.committed().at(-1), 15_000, agent);

    const r2 = await restoredFiles(server, p2.snapshotId, watched);
    expect(r2.get("a.txt")).toBe(Buffer.from("first version of a").toString("base64"));
    expect(r2.get("sub/b.bin")).toBe(big.toString("base64"));
    const r3 = await restoredFiles(server, p3.snapshotId, watched);
    expect(r3.get("a.txt")).toBe(Buffer.from("second version of a, longer").toString("base64"));
    expect(r3.has("sub/b.bin")).toBe(false);
    expect(p3.consistency).toBe("crash");
    expect(agent.output()).toMatch(/spool maintenance: [1-9]\d* tree pack\(s\) trimmed/);
    // Heartbeats and events flowed; status reflects the last point.
    expect(server.heartbeats.length).toBeGreaterThan(0);
    await waitFor("committed event", () => server.events.some((e) => e.kind === "point-committed"), 5_000, agent);
    const st = await cli(["status", "--state-dir", stateDir]);
    expect(st.out).toContain("test-machine");
    await stopAgent(agent);
    expect(agent.child.exitCode).toBe(0);
    await server.stop();
  }, 90_000);

  it("keeps capturing while Azure is down; points commit after it returns and nothing is lost", async () => {
    const { watched, stateDir, server } = await setup();
    await writeFile(join(watched, "before.txt"), "before the outage");
    const agent = run(stateDir);
    await waitFor("initial point", () => server.committed().length >= 1, 30_000, agent);
    const port = azurite.port;
    await azurite.stop();
    const during = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const b = randomBytes(50_000 + i);
      during.set(`outage-${i}.bin`, b);
      await writeFile(join(watched, `outage-${i}.bin`), b);
      await new Promise((r) => setTimeout(r, 6_000));
    }
    const committedDuring = server.committed().length;
    expect(committedDuring).toBe(1);
    // Capture went on: points are spooled locally, waiting for Azure.
    const queued = (await import("node:fs/promises")).readdir(join(stateDir, "queue"));
    expect((await queued).length).toBeGreaterThan(0);
    azurite = await startAzurite({ location: azuriteDir, port });
    const last = await waitFor("points after Azure returns", () => {
      const c = server.committed();
      return c.length > 1 && c.at(-1)!.sources.length > 0 && c.at(-1);
    }, 60_000, agent);
    await waitFor("queue drained", async () => (await (await import("node:fs/promises")).readdir(join(stateDir, "queue"))).length === 0, 30_000, agent);
    const final = server.committed().at(-1)!;
    const files = await restoredFiles(server, final.snapshotId, watched);
    for (const [name, b] of during) expect(files.get(name), name).toBe(b.toString("base64"));
    expect(files.get("before.txt")).toBe(Buffer.from("before the outage").toString("base64"));
    expect(last).toBeTruthy();
    expect(server.events.some((e) => e.kind === "upload-retry")).toBe(true);
    await stopAgent(agent);
    await server.stop();
  }, 120_000);

  it("killed with SIGKILL mid-upload and restarted: resumes without re-uploading stored chunks", async () => {
    const { watched, stateDir, server } = await setup({}, { packDelayMs: 400 });
    // Many small packs (the repo's pack size is 4 MiB; 12 MiB of incompressible data).
    const data = randomBytes(12 * 1024 * 1024);
    await writeFile(join(watched, "big.bin"), data);
    const a1 = run(stateDir);
    await waitFor("first pack reported", () => server.packs.length >= 1, 60_000, a1);
    a1.child.kill("SIGKILL");
    await a1.exited;
    expect(server.committed().length).toBe(0);
    const before = server.packs.length;
    const a2 = run(stateDir);
    const p = await waitFor("point after restart", () => server.committed().at(-1), 60_000, a2);
    // No chunk was reported twice: what was stored before the kill was not sent again.
    const all = server.packs.flatMap((x) => x.ids);
    expect(new Set(all).size).toBe(all.length);
    expect(server.packs.length).toBeGreaterThan(before);
    const files = await restoredFiles(server, p.snapshotId, watched);
    expect(files.get("big.bin")).toBe(data.toString("base64"));
    await stopAgent(a2);
    await server.stop();
  }, 120_000);

  it("a forged credential is fatal: the agent reports it and stops with exit code 3", async () => {
    const { stateDir, server } = await setup();
    const path = join(stateDir, "machine.json");
    const m = JSON.parse(await readFile(path, "utf8"));
    m.machineSecret = randomBytes(32).toString("base64url");
    await writeFile(path, JSON.stringify(m));
    await chmod(path, 0o600);
    const agent = run(stateDir);
    const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r("still running"), 30_000))]);
    expect(code, agent.output()).toBe(3);
    const st = JSON.parse(await readFile(join(stateDir, "status.json"), "utf8"));
    expect(st.state).toBe("fatal");
    expect(st.lastError).toMatch(/credential/);
    expect(server.committed()).toHaveLength(0);
    await server.stop();
  }, 60_000);

  it("hooks: a pre-freeze timeout leaves the point crash-consistent and post-thaw still runs; a good hook makes it application-consistent", async () => {
    const marker = join(await tmp("hook"), "thawed");
    const { watched, stateDir, server } = await setup({ preFreezeCommand: "sleep 30", postThawCommand: `echo thawed >> ${marker}`, hookTimeoutSeconds: 1 });
    await writeFile(join(watched, "f.txt"), "x");
    const agent = run(stateDir);
    const p = await waitFor("point", () => server.committed().at(-1), 30_000, agent);
    expect(p.consistency).toBe("crash");
    expect(await readFile(marker, "utf8")).toContain("thawed");
    await waitFor("hook-failed event", () => server.events.some((e) => e.kind === "hook-failed" && /timed out/.test(e.message)), 10_000, agent);

    server.setPolicy({ preFreezeCommand: "true" });
    await new Promise((r) => setTimeout(r, 1500));
    await writeFile(join(watched, "f.txt"), "y");
    const n = server.committed().length;
    const p2 = await waitFor("application-consistent point", () => server.committed().length > n && server.committed().at(-1), 20_000, agent);
    expect(p2.consistency).toBe("application");
    await stopAgent(agent);
    await server.stop();
  }, 90_000);

  it("server unreachable (503): capture goes on into the spool; points commit when it is back", async () => {
    const { watched, stateDir, server } = await setup();
    await writeFile(join(watched, "one.txt"), "1");
    const agent = run(stateDir);
    await waitFor("initial point", () => server.committed().length >= 1, 30_000, agent);
    server.down = true;
    await writeFile(join(watched, "two.txt"), "2");
    await new Promise((r) => setTimeout(r, 7_000));
    expect(server.committed()).toHaveLength(1);
    const st = JSON.parse(await readFile(join(stateDir, "status.json"), "utf8"));
    expect(st.state).toBe("running");
    server.down = false;
    const p = await waitFor("point after the server returns", () => server.committed().length >= 2 && server.committed().at(-1), 60_000, agent);
    const files = await restoredFiles(server, p.snapshotId, watched);
    expect([...files.keys()].sort()).toEqual(["one.txt", "two.txt"]);
    // Heartbeats resumed and carried the outage as lastError.
    expect(server.heartbeats.some((h) => typeof (h as { lastError?: string }).lastError === "string")).toBe(true);
    await stopAgent(agent);
    await server.stop();
  }, 90_000);

  it("a SAS Azure refuses (403, like an expired one) is replaced by a fresh upload session", async () => {
    const { watched, stateDir, server } = await setup({}, { badFirstSas: true });
    await writeFile(join(watched, "x.txt"), "x");
    const agent = run(stateDir);
    const p = await waitFor("point", () => server.committed().at(-1), 40_000, agent);
    expect(server.sasIssued).toBeGreaterThanOrEqual(2);
    expect((await restoredFiles(server, p.snapshotId, watched)).get("x.txt")).toBe(Buffer.from("x").toString("base64"));
    await stopAgent(agent);
    await server.stop();
  }, 60_000);

  it("the bundled one-file agent (dist/tidemark-agent.mjs) runs the same loop", async () => {
    const b = await new Promise<number | null>((res) => {
      const c = spawn(process.execPath, ["scripts/bundle.mjs"], { cwd: join(BUNDLE, "..", ".."), stdio: "ignore" });
      c.on("exit", res);
    });
    expect(b).toBe(0);
    const { watched, stateDir, server } = await setup();
    const data = randomBytes(200_000);
    await writeFile(join(watched, "bundled.bin"), data);
    const agent = run(stateDir, { bundle: true });
    const p = await waitFor("point from the bundle", () => server.committed().at(-1), 30_000, agent);
    expect((await restoredFiles(server, p.snapshotId, watched)).get("bundled.bin")).toBe(data.toString("base64"));
    await stopAgent(agent);
    await server.stop();
  }, 60_000);

  it("executes restore jobs: to another folder, and to the original place under overwrite / skip / keep-both", async () => {
    const { watched, stateDir, server } = await setup();
    await mkdir(join(watched, "docs"));
    await writeFile(join(watched, "docs", "a.txt"), "A1");
    await writeFile(join(watched, "docs", "b.txt"), "B1");
    const agent = run(stateDir);
    const p1 = await waitFor("point", () => server.committed().find((m) => m.stats.files >= 2), 30_000, agent);

    const folder = await tmp("restore-to");
    const j1 = server.addRestoreJob({ snapshotId: p1.snapshotId, paths: [join(watched, "docs")], destination: { kind: "folder", path: folder }, conflict: "overwrite" });
    await waitFor("restore to folder", () => j1.result, 30_000, agent);
    expect(j1.result).toEqual({ ok: true, restoredFiles: 2, failed: [] });
    expect(await readFile(join(folder, "docs", "a.txt"), "utf8")).toBe("A1");

    await writeFile(join(watched, "docs", "a.txt"), "A2");
    await writeFile(join(watched, "docs", "b.txt"), "B2");
    const j2 = server.addRestoreJob({ snapshotId: p1.snapshotId, paths: [join(watched, "docs", "a.txt")], destination: { kind: "original" }, conflict: "skip" });
    await waitFor("skip", () => j2.result, 30_000, agent);
    expect(await readFile(join(watched, "docs", "a.txt"), "utf8")).toBe("A2");
    const j3 = server.addRestoreJob({ snapshotId: p1.snapshotId, paths: [join(watched, "docs", "a.txt")], destination: { kind: "original" }, conflict: "overwrite" });
    await waitFor("overwrite", () => j3.result, 30_000, agent);
    expect(await readFile(join(watched, "docs", "a.txt"), "utf8")).toBe("A1");
    const j4 = server.addRestoreJob({ snapshotId: p1.snapshotId, paths: [join(watched, "docs", "b.txt")], destination: { kind: "original" }, conflict: "keep-both" });
    await waitFor("keep-both", () => j4.result, 30_000, agent);
    const names = (await (await import("node:fs/promises")).readdir(join(watched, "docs"))).sort();
    expect(names).toHaveLength(3);
    expect(await readFile(join(watched, "docs", "b.txt"), "utf8")).toBe("B2");
    const kept = names.find((n) => n.startsWith("b (restored "))!;
    expect(await readFile(join(watched, "docs", kept), "utf8")).toBe("B1");
    expect(names.some((n) => n.startsWith(".tidemark-restore"))).toBe(false);

    const bad = server.addRestoreJob({ snapshotId: p1.snapshotId, paths: [join(watched, "nope")], destination: { kind: "folder", path: folder }, conflict: "overwrite" });
    await waitFor("failed job", () => bad.result, 30_000, agent);
    expect(bad.result!.ok).toBe(false);
    expect(bad.result!.failed[0]!.error).toMatch(/not found/);
    expect(j1.progress.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.lateReports).toBe(0);
    await stopAgent(agent);
    await server.stop();
  }, 90_000);

  it("images a volume (an image file) on its own interval; later file points carry it; it restores byte-identical", async () => {
    const imgDir = await tmp("vol");
    const img = join(imgDir, "disk.img");
    const image = Buffer.alloc(2 * 1024 * 1024);
    randomBytes(300_000).copy(image, 100_000);
    await writeFile(img, image);
    const { watched, stateDir, server } = await setup({ volumes: [img], volumeIntervalSeconds: 60 });
    await writeFile(join(watched, "f.txt"), "1");
    const agent = run(stateDir);
    const p1 = await waitFor("point with the volume", () => server.committed().find((m) => m.volumes.length === 1), 30_000, agent);
    expect(p1.volumes[0]!.source).toBe(img);
    await writeFile(join(watched, "f.txt"), "2");
    const p2 = await waitFor("file point", () => server.committed().length >= 2 && server.committed().at(-1), 20_000, agent);
    // Not re-imaged (the interval is 60 s), but still part of the point: every point is complete.
    expect(p2.volumes[0]!.map).toBe(p1.volumes[0]!.map);
    const { Repository, restoreVolume } = await import("../src/engine");
    const { azureStore } = await import("@tidemark/storage");
    const repo = await Repository.open(azureStore({ connectionString: azurite.connectionString, container: server.container }), { kek: server.kek });
    const out = join(imgDir, "restored.img");
    const r = await restoreVolume(repo, await repo.loadSnapshot(p2.snapshotId), "disk.img", out);
    await repo.close();
    expect(r.failures).toEqual([]);
    expect((await readFile(out)).equals(image)).toBe(true);
    await stopAgent(agent);
    await server.stop();
  }, 60_000);

  it.runIf(nobodyCanRun())("an unreadable file is recorded in the point and reported as an event, not fatal (agent as an unprivileged user)", async () => {
    const { watched, stateDir, server } = await setup();
    await writeFile(join(watched, "ok.txt"), "fine");
    await writeFile(join(watched, "secret.txt"), "root only");
    await chmod(join(watched, "secret.txt"), 0o000);
    const { chown } = await import("node:fs/promises");
    const { execFileSync } = await import("node:child_process");
    execFileSync("chown", ["-R", "65534:65534", join(stateDir, ".."), watched]);
    await chown(join(watched, "secret.txt"), 0, 0);
    const agent = run(stateDir, { uid: 65534 });
    const p = await waitFor("point", () => server.committed().at(-1), 40_000, agent);
    expect(p.errors).toEqual([{ path: join(watched, "secret.txt"), error: "EACCES" }]);
    await waitFor("unreadable-file event", () => server.events.find((e) => e.kind === "unreadable-file"), 10_000, agent);
    expect(server.events.find((e) => e.kind === "unreadable-file")!.path).toBe(join(watched, "secret.txt"));
    const files = await restoredFiles(server, p.snapshotId, watched);
    expect(files.get("ok.txt")).toBe(Buffer.from("fine").toString("base64"));
    expect(files.has("secret.txt")).toBe(false);
    await stopAgent(agent);
    await server.stop();
  }, 60_000);

  it("a credential revoked while running: the next call gets 401 and the agent stops with exit code 3", async () => {
    const { watched, stateDir, server } = await setup();
    await writeFile(join(watched, "a.txt"), "a");
    const agent = run(stateDir);
    await waitFor("point", () => server.committed().length >= 1, 30_000, agent);
    for (const m of server.machines.values()) m.revoked = true;
    const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
    expect(code, agent.output()).toBe(3);
    expect(JSON.parse(await readFile(join(stateDir, "status.json"), "utf8")).state).toBe("fatal");
    await server.stop();
  }, 60_000);

  it("the spool is bounded: with Azure down and the spool full, capture pauses (changes kept) and resumes after uploads drain", async () => {
    const { watched, stateDir, server } = await setup({ spoolLimitBytes: 16 * 1024 * 1024 });
    await writeFile(join(watched, "small.txt"), "s");
    const agent = run(stateDir);
    await waitFor("initial point", () => server.committed().length >= 1, 30_000, agent);
    const port = azurite.port;
    await azurite.stop();
    const big = randomBytes(20 * 1024 * 1024);
    await writeFile(join(watched, "big.bin"), big);
    const { readdir } = await import("node:fs/promises");
    const points = async () => (await Promise.all((await readdir(join(stateDir, "queue"))).map(async (n) => JSON.parse(await readFile(join(stateDir, "queue", n), "utf8"))))).filter((i) => i.kind === "point").length;
    await waitFor("big point spooled", async () => (await points()) === 1, 30_000, agent);
    await writeFile(join(watched, "later.txt"), "written while the spool is full");
    await waitFor("spool-full event", () => server.events.some((e) => e.kind === "spool-full"), 20_000, agent);
    expect(await points()).toBe(1);
    azurite = await startAzurite({ location: azuriteDir, port });
    const p = await waitFor("point with later.txt", () => server.committed().find((m) => m.stats.files === 3), 60_000, agent);
    const files = await restoredFiles(server, p.snapshotId, watched);
    expect(files.get("big.bin")).toBe(big.toString("base64"));
    expect(files.get("later.txt")).toBe(Buffer.from("written while the spool is full").toString("base64"));
    await stopAgent(agent);
    await server.stop();
  }, 120_000);
});
