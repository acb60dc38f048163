// One-off interop check (not part of the test suite): the real agent against the real server side
// in packages/backup (fetch handlers on node:http, fresh PostgreSQL database, in-memory Azurite).
//   cd packages/backup && npx tsx ../../agent/scripts/interop-backup.mts
// Prints every agent API call with its status, then the points the server recorded.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createWorld, issueToken } from "../../packages/backup/test/fixtures.ts";
import { routes } from "@tidemark/agent-protocol";

const w = await createWorld();
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const url = new URL(req.url!, "http://x");
  const path = url.pathname.replace(/^\/api\/agent\/v1/, "");
  const entry = Object.entries(routes).find(([, r]) => r.method === req.method && new RegExp(`^${r.path.replace(":id", "([^/]+)")}$`).test(path));
  if (!entry) { res.writeHead(404); return res.end(); }
  const [name, r] = entry;
  const m = new RegExp(`^${r.path.replace(":id", "([^/]+)")}$`).exec(path)!;
  const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: req.method === "GET" ? undefined : Buffer.concat(chunks) });
  const out = await (w.api as any)[name](request, m[1] ? { id: m[1] } : undefined);
  const text = await out.text();
  console.log(`${req.method} ${path} → ${out.status}${out.status >= 400 ? " " + text.slice(0, 300) : ""}`);
  res.writeHead(out.status, Object.fromEntries(out.headers));
  res.end(text);
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const token = await issueToken(w, w.a1);
const stateDir = join(await mkdtemp(join(tmpdir(), "interop-")), "agent");
const watched = await mkdtemp(join(tmpdir(), "interop-w-"));
const main = new URL("../src/main.ts", import.meta.url).pathname;
const run = (args: string[]) => spawn(process.execPath, ["--import", "tsx", main, ...args], { cwd: new URL("..", import.meta.url).pathname, stdio: ["ignore", "inherit", "inherit"] });
await new Promise((r) => run(["enroll", "--server", url, "--token", token, "--state-dir", stateDir]).on("exit", r));
const m = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8"));
const { schema } = await import("../../packages/db/src/index.ts");
const [pol] = await w.database.db.insert(schema.policies).values({ mspId: w.mspId, name: "interop", rpoSeconds: 5, includePaths: [watched], retention: { keepWithinHours: 24, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 1 } }).returning();
await w.database.db.insert(schema.policyAssignments).values({ mspId: w.mspId, customerId: w.a1, machineId: null, policyId: pol!.id });
await writeFile(join(watched, "a.txt"), "hello interop");
const agent = run(["run", "--state-dir", stateDir, "--tick-ms", "100", "--debounce-ms", "500", "--heartbeat-ms", "1000"]);
await new Promise((r) => setTimeout(r, 15000));
await writeFile(join(watched, "b.txt"), "second");
await new Promise((r) => setTimeout(r, 12000));
// A restore job for the latest point, executed by the agent.
const { createRestoreJob } = await import("../../packages/backup/src/index.ts");
const latest = (await w.database.db.select().from(schema.recoveryPoints)).at(-1)!;
const dest = await mkdtemp(join(tmpdir(), "interop-r-"));
await w.database.db.transaction((tx: any) =>
  createRestoreJob(tx, { mspId: w.mspId, customerId: w.a1 }, { machineId: m.machineId, recoveryPointId: latest.id, paths: [join(watched, "a.txt")], destination: { kind: "folder", path: dest }, conflict: "overwrite" }),
);
await new Promise((r) => setTimeout(r, 6000));
console.log("restore jobs:", JSON.stringify((await w.database.db.select().from(schema.restoreJobs)).map((j: any) => ({ state: j.state, result: j.result }))));
console.log("restored a.txt:", await readFile(join(dest, "a.txt"), "utf8").catch((e) => `(missing: ${e.code})`));
console.log("status:", await readFile(join(stateDir, "status.json"), "utf8"));
const pts = await w.database.db.select().from(schema.recoveryPoints);
console.log("points in DB:", pts.length, JSON.stringify(pts.map((p: any) => ({ c: p.consistency, s: p.snapshotId?.slice(0, 8) }))));
// Restore the last point with the engine from the container, as the server would.
const store = w.svc.blobs.container(w.a1).store;
console.log("container objects:", (await (async () => { const n: string[] = []; for await (const x of store.list("")) n.push(x.key.split("/")[0]!); return [...new Set(n)].join(","); })()));
agent.kill("SIGTERM");
await new Promise((r) => agent.on("exit", r));
server.close();
await w.stop();
process.exit(0);
