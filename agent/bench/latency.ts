/**
 * Change → committed point latency at rpoSeconds=5 with the agent's production timings
 * (2 s debounce, 250 ms tick), through the real server (serveAgentApi over PostgreSQL) and
 * in-process Azurite.
 *   cd agent && npx tsx bench/latency.ts [samples]
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { issueToken } from "@tidemark/backup/testing";
import { cli, removeTmp, stopAgent, tmp } from "../test/helpers";
import { committed, newCustomer, setPolicy, startRealServer } from "../test/real-server";

// Killed (timeout, ^C): exit normally so the "exit" handlers below stop the agent.
for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => process.exit(130));

const samples = Number(process.argv[2] ?? 20);
const srv = await startRealServer(await tmp("bench-azurite"));
const watched = await tmp("bench-watched");
const stateDir = join(await tmp("bench-state"), "agent");
const customerId = await newCustomer(srv.w, "Latency");
await setPolicy(srv.w, { customerId }, { rpoSeconds: 5, includePaths: [watched] });
const e = await cli(["enroll", "--server", srv.url, `--token=${await issueToken(srv.w, customerId)}`, "--state-dir", stateDir]);
if (e.code !== 0) throw new Error(e.out);
const { machineId } = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")) as { machineId: string };
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const child = spawn(process.execPath, ["--import", "tsx", main, "run", "--state-dir", stateDir], { stdio: "ignore" });
// A bench killed half-way must not leave its agent running.
process.once("exit", () => child.kill("SIGKILL"));
const agent = { child, output: () => "", exited: new Promise<number | null>((r) => child.on("exit", r)) };
const count = async () => (await committed(srv.w, machineId)).length;
const until = async (f: () => Promise<boolean>) => {
  while (!(await f())) await new Promise((r) => setTimeout(r, 20));
};
await until(async () => (await count()) >= 1);
const lat: number[] = [];
for (let i = 0; i < samples; i++) {
  // Changes arrive at random moments relative to the previous point (0–6 s later).
  await new Promise((r) => setTimeout(r, Math.random() * 6000));
  const n = await count();
  const t0 = Date.now();
  await writeFile(join(watched, `f${i % 5}.txt`), `change ${i} ${t0}`);
  await until(async () => (await count()) > n);
  lat.push(Date.now() - t0);
}
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]!;
console.log(`change → committed point, rpoSeconds=5, ${samples} samples: p50 ${(q(50) / 1000).toFixed(2)} s, p95 ${(q(95) / 1000).toFixed(2)} s, max ${(lat.at(-1)! / 1000).toFixed(2)} s`);
await stopAgent(agent);
await srv.stop();
await removeTmp();
