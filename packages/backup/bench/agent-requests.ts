/**
 * What the server (this process's JS + PostgreSQL) spends per chunk of an agent's first backup:
 * the agent's request sequence replayed through the real route handlers — per pack
 * `chunks/missing` (fresh ids), the pack object put into the container (outside the measured
 * phases), `packs` (columns), then one commit listing every id.
 *
 *   cd packages/backup && ../../agent/node_modules/.bin/tsx bench/agent-requests.ts [--chunks 48000] [--packs 30] [--runs 3]
 *
 * Server CPU is process.cpuUsage() around each call (it includes the in-process Azurite's share of
 * the report's HEAD and the commit's manifest HEAD, but no blob writes); PostgreSQL CPU is the
 * utime+stime of every backend whose command line names the test database (/proc, 10 ms ticks).
 * Each run enrols a machine of a fresh customer, so every run indexes into an empty customer.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { schema } from "@tidemark/db";
import { sql } from "drizzle-orm";
import { call, chunkId, createWorld, enroll, pointBody, putPack, putSnapshot, type World } from "../test/fixtures";

const { values } = parseArgs({
  options: { chunks: { type: "string", default: "48000" }, packs: { type: "string", default: "30" }, runs: { type: "string", default: "3" } },
});
const CHUNKS = Number(values.chunks);
const PACKS = Number(values.packs);
const RUNS = Number(values.runs);
const PACK_BYTES = 1 << 20;

const TICK = 100; // USER_HZ
function cpuOfStat(path: string): number {
  const f = readFileSync(path, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / TICK;
}
/** Backends of the test database; autovacuum workers (their command line names it too) apart. */
function postgresCpu(dbName: string): { backends: number; autovacuum: number } {
  const sum = { backends: 0, autovacuum: 0 };
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(dbName)) sum[cmd.includes("autovacuum") ? "autovacuum" : "backends"] += cpuOfStat(`/proc/${pid}/stat`);
    } catch {}
  }
  return sum;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

type Phase = { js: number; pg: number; ms: number; av: number };
const PHASES = ["missing", "report", "commit"] as const;
type Totals = Record<(typeof PHASES)[number], Phase>;

async function measured<T>(dbName: string, into: Phase, fn: () => Promise<T>): Promise<T> {
  const pg0 = postgresCpu(dbName);
  const t0 = performance.now();
  const c0 = selfCpu();
  const out = await fn();
  into.js += selfCpu() - c0;
  into.ms += performance.now() - t0;
  const pg1 = postgresCpu(dbName);
  into.pg += pg1.backends - pg0.backends;
  into.av += pg1.autovacuum - pg0.autovacuum;
  return out;
}

function check(r: { status: number; body: unknown }, want: number, what: string) {
  if (r.status !== want) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
}

async function run(w: World, dbName: string, chunks: number, packs: number): Promise<Totals> {
  const [customer] = await w.database.db.insert(schema.customers).values({ mspId: w.mspId, name: `bench ${randomBytes(4).toString("hex")}` }).returning();
  const m = await enroll(w, customer!.id, "bench-srv");
  const t: Totals = { missing: { js: 0, pg: 0, ms: 0, av: 0 }, report: { js: 0, pg: 0, ms: 0, av: 0 }, commit: { js: 0, pg: 0, ms: 0, av: 0 } };
  const all: string[] = [];
  const per = Math.ceil(chunks / packs);
  for (let p = 0; p < packs; p++) {
    const n = Math.min(per, chunks - p * per);
    if (n <= 0) break;
    const ids = Array.from({ length: n }, chunkId);
    all.push(...ids);
    // Bodies are built outside the measured phases: that is the agent's work.
    const missingBody = JSON.stringify({ idsHex: ids.join("") });
    const r1 = await measured(dbName, t.missing, () => call(w, "chunksMissing", { credential: m.credential, body: missingBody }));
    check(r1, 200, "chunks/missing");
    if ((r1.body as { missingHex: string }).missingHex.length !== n * 64) throw new Error("fresh ids reported as present");
    const pack = await putPack(w, customer!.id, PACK_BYTES);
    const reportBody = JSON.stringify({
      packId: pack.packId,
      size: pack.size,
      salt: randomBytes(32).toString("base64"),
      columns: {
        ids: ids.join(""),
        types: ids.map((_, i) => (i === 0 ? "1" : "0")).join(""),
        offsets: ids.map((_, i) => 40 + i * 64),
        lengths: ids.map(() => 64),
        rawLengths: ids.map(() => 100),
      },
    });
    const r2 = await measured(dbName, t.report, () => call(w, "packs", { credential: m.credential, body: reportBody }));
    check(r2, 200, "packs");
  }
  const snapshotId = await putSnapshot(w, customer!.id);
  const { chunkIds: _, ...point } = pointBody({ rootTree: all[0]!, snapshotId });
  const commitBody = JSON.stringify({ ...point, chunkIdsHex: all.join("") });
  const r3 = await measured(dbName, t.commit, () => call(w, "points", { credential: m.credential, body: commitBody }));
  check(r3, 201, "points");
  return t;
}

const f = (x: number) => x.toFixed(3).padStart(6);
const w = await createWorld();
try {
  const dbName = ((await w.database.db.execute(sql`select current_database() as d`)) as unknown as Array<{ d: string }>)[0]!.d;
  await run(w, dbName, 3200, 2); // warm-up: JIT, the pool's connections
  console.log(`chunks ${CHUNKS} in ${PACKS} packs; js = this process (server + Azurite HEADs), pg = PostgreSQL backends (autovacuum apart); CPU-s`);
  const rows: Totals[] = [];
  for (let i = 0; i < RUNS; i++) {
    const l0 = load();
    const t = await run(w, dbName, CHUNKS, PACKS);
    rows.push(t);
    const tot = PHASES.reduce((a, p) => ({ js: a.js + t[p].js, pg: a.pg + t[p].pg, ms: a.ms + t[p].ms, av: a.av + t[p].av }), { js: 0, pg: 0, ms: 0, av: 0 });
    console.log(
      `run ${i + 1}: ` +
        PHASES.map((p) => `${p} js ${f(t[p].js)} pg ${f(t[p].pg)} ${t[p].ms.toFixed(0).padStart(5)} ms`).join(" | ") +
        ` | total js ${f(tot.js)} pg ${f(tot.pg)} ${tot.ms.toFixed(0)} ms (autovacuum ${tot.av.toFixed(2)}) | load ${l0}`,
    );
  }
} finally {
  await w.stop();
}
