/**
 * The real agent against the real server side (serveAgentApi + PostgreSQL + Azurite):
 * - the enrol reply carries the policy's ETag, so a new agent's heartbeats fetch nothing
 *   until the policy really changes;
 * - a restore job executed by the BUILT bundle decodes on the decode worker shipped beside
 *   it (and still restores, on the main thread, when that file is missing);
 * - a restart after the include path's parent folder changed (a full walk) makes no point.
 */
import { chmod, mkdir, readFile, readdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentClient, formatCredential } from "@tidemark/agent-protocol";
import { createRestoreJob } from "@tidemark/backup";
import { issueToken } from "@tidemark/backup/testing";
import { BUNDLE, cli, removeTmp, startAgent, stopAgent, tmp, waitFor, type AgentProc } from "./helpers";
import { committed, newCustomer, restoreJobRow, setPolicy, startRealServer, type RealServer } from "./real-server";

let srv: RealServer;
const running: AgentProc[] = [];
/** This file's own bundle build, inside agent/dist so the native addons resolve from agent/node_modules. */
const bundleDir = join(BUNDLE, "..", `test-${randomUUID()}`);

beforeAll(async () => {
  srv = await startRealServer(await tmp("azurite"));
});
afterAll(async () => {
  for (const a of running) await stopAgent(a);
  await srv?.stop();
  await rm(bundleDir, { recursive: true, force: true });
  await removeTmp();
});

async function enrolled(name: string, opts: { nested?: boolean } = {}) {
  // nested: the include path is a folder below a test-owned parent (whose metadata the test changes).
  const parent = await tmp("watched");
  const watched = opts.nested ? join(parent, "inc") : parent;
  if (opts.nested) await mkdir(watched);
  const stateDir = join(await tmp("state"), "agent");
  const customerId = await newCustomer(srv.w, `${name} Co`);
  await setPolicy(srv.w, { customerId }, { includePaths: [watched] });
  const e = await cli(["enroll", "--server", srv.url, `--token=${await issueToken(srv.w, customerId)}`, "--name", name, "--state-dir", stateDir]);
  expect(e.code, e.out).toBe(0);
  const machine = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")) as { machineId: string; machineSecret: string; policyEtag?: string };
  return { parent, watched, stateDir, customerId, machine, scope: { mspId: srv.w.mspId, customerId } };
}

describe("enrol reply with the policy ETag; restore decode worker in the bundle (real server)", () => {
  it("enrol stores the same ETag GET policy gives; heartbeats fetch the policy only once it changes", async () => {
    const m = await enrolled("etag-01");
    const api = createAgentClient({ serverUrl: srv.url, credential: formatCredential(m.machine.machineId, m.machine.machineSecret) });
    const current = await api.getPolicy();
    expect(m.machine.policyEtag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(m.machine.policyEtag).toBe(current!.etag);
    // The server agrees it is current: If-None-Match with it is a 304.
    expect(await api.getPolicy(m.machine.policyEtag)).toBeNull();

    const from = srv.proxy.calls.length;
    const agent = startAgent(m.stateDir);
    running.push(agent);
    const heartbeats = () => srv.proxy.calls.slice(from).filter((c) => c.method === "POST" && c.path.endsWith("/heartbeat") && c.status === 200).length;
    await waitFor("three heartbeats", () => heartbeats() >= 3, 30_000, agent);
    expect(srv.proxy.calls.slice(from).filter((c) => c.path.endsWith("/policy"))).toEqual([]);

    // Not a check that can never fail: a real change is fetched (once) and applied.
    await setPolicy(srv.w, { customerId: m.customerId }, { includePaths: [m.watched], rpoSeconds: 7 });
    await waitFor("policy fetched after the change", () => srv.proxy.calls.slice(from).some((c) => c.path.endsWith("/policy") && c.status === 200), 15_000, agent);
    await waitFor("machine.json updated", async () => JSON.parse(await readFile(join(m.stateDir, "machine.json"), "utf8")).policy.rpoSeconds === 7, 10_000, agent);
    const after = JSON.parse(await readFile(join(m.stateDir, "machine.json"), "utf8")) as { policyEtag: string };
    expect(after.policyEtag).not.toBe(m.machine.policyEtag);
    expect(after.policyEtag).toBe((await api.getPolicy())!.etag);
    await stopAgent(agent);
  }, 60_000);

  it("restarted after the include path's parent folder changed (mtime, mode, a new sibling): the start's full walks make no point; a real change does", async () => {
    const m = await enrolled("parent-touch", { nested: true });
    await writeFile(join(m.watched, "kept.txt"), "protected");
    const first = startAgent(m.stateDir);
    running.push(first);
    await waitFor("first point", async () => (await committed(srv.w, m.machine.machineId)).length >= 1, 30_000, first);
    await stopAgent(first);
    const before = (await committed(srv.w, m.machine.machineId)).length;

    await utimes(m.parent, new Date(), new Date(Date.now() + 3600_000));
    await chmod(m.parent, 0o751);
    await writeFile(join(m.parent, "not-protected.txt"), "x");
    const again = startAgent(m.stateDir);
    running.push(again);
    // The start walk and the one after the watcher is up both see only the parent's change.
    await waitFor("two full walks without a point", () => (again.output().match(/full walk: only directories above the include paths changed, no point/g) ?? []).length >= 2, 45_000, again);
    expect(again.output()).not.toMatch(/point spooled/);
    expect((await committed(srv.w, m.machine.machineId)).length).toBe(before);

    await writeFile(join(m.watched, "kept.txt"), "protected, changed");
    await waitFor("a point for the real change", async () => (await committed(srv.w, m.machine.machineId)).length > before, 30_000, again);
    await stopAgent(again);
  }, 120_000);

  it("the built bundle runs a restore job on the decode worker shipped beside it; without that file it restores on the main thread", async () => {
    await mkdir(bundleDir, { recursive: true });
    const b = await new Promise<number | null>((res) => {
      const c = spawn(process.execPath, ["scripts/bundle.mjs", "--outdir", bundleDir], { cwd: join(BUNDLE, "..", ".."), stdio: "ignore" });
      c.on("exit", res);
    });
    expect(b).toBe(0);
    expect((await readdir(bundleDir)).sort()).toEqual(["decode-worker.js", "encode-worker-boot.mjs", "encode-worker.js", "package.json", "tidemark-agent.mjs"]);
    // Proof the worker really ran: a shim in its place notes each start, then loads the real module.
    const marks = join(await tmp("marks"), "decode-worker-starts");
    await rename(join(bundleDir, "decode-worker.js"), join(bundleDir, "decode-worker-real.js"));
    await writeFile(
      join(bundleDir, "decode-worker.js"),
      `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(marks)}, "started\\n");\nawait import("./decode-worker-real.js");\n`,
    );

    const m = await enrolled("bundle-restore");
    await mkdir(join(m.watched, "data"));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) files.set(`f${i}.bin`, randomBytes(150_000 + i * 10_000));
    for (const [n, d] of files) await writeFile(join(m.watched, "data", n), d);
    const agent = startAgent(m.stateDir, ["--decode-workers", "2"], { bundleFile: join(bundleDir, "tidemark-agent.mjs") });
    running.push(agent);
    const p = await waitFor("point from the bundle", async () => (await committed(srv.w, m.machine.machineId)).find((x) => x.stats.files >= 6), 30_000, agent);
    const job = (folder: string) =>
      srv.w.database.db.transaction((tx) => createRestoreJob(tx as never, m.scope, { machineId: m.machine.machineId, recoveryPointId: p.pointId, paths: [join(m.watched, "data")], destination: { kind: "folder", path: folder }, conflict: "overwrite" }));
    const finished = (id: string) => async () => {
      const r = await restoreJobRow(srv.w, id);
      return r.state !== "queued" && r.state !== "running" && r;
    };
    const compare = async (folder: string) => {
      for (const [n, d] of files) expect((await readFile(join(folder, "data", n))).equals(d), n).toBe(true);
    };

    const withWorker = await tmp("restore-worker");
    const j1 = await job(withWorker);
    expect((await waitFor("restore on workers", finished(j1.id), 30_000, agent)).state).toBe("succeeded");
    await compare(withWorker);
    const starts = (await readFile(marks, "utf8")).split("\n").filter(Boolean).length;
    expect(starts).toBe(2);

    // A bundle shipped without the worker file: the job still succeeds, decoded in-thread, and the log says why.
    await rm(join(bundleDir, "decode-worker.js"));
    const inThread = await tmp("restore-in-thread");
    const j2 = await job(inThread);
    expect((await waitFor("restore in-thread", finished(j2.id), 30_000, agent)).state).toBe("succeeded");
    await compare(inThread);
    expect((await readFile(marks, "utf8")).split("\n").filter(Boolean).length).toBe(starts);
    expect(agent.output()).toMatch(/decode-worker\.js is missing .*main thread/);
    await stopAgent(agent);
    expect(agent.child.exitCode).toBe(0);
  }, 90_000);
});
