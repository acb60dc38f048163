/**
 * Idle cost of the bundled agent watching a tree of N files (default 100 000): after the
 * initial point is committed, CPU (utime+stime from /proc) and RSS over a quiet minute.
 *   cd agent && pnpm bundle && npx tsx bench/idle.ts [files] [seconds] [agent run options…]
 * e.g. `… 100000 60 --encode-workers 0` to take the initial point on the main thread.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startAzurite } from "@tidemark/storage/testing";
import { FakeServer } from "../test/fake-server";
import { cli, removeTmp, stopAgent, tmp } from "../test/helpers";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "../src/memory";

// Killed (timeout, ^C): exit normally so the "exit" handlers below stop the agent.
for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => process.exit(130));

const files = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 60);
const watched = await tmp("idle-watched");
let t = Date.now();
for (let d = 0; d < Math.ceil(files / 1000); d++) {
  await mkdir(join(watched, `d${d}`));
  await Promise.all(Array.from({ length: Math.min(1000, files - d * 1000) }, (_, i) => writeFile(join(watched, `d${d}`, `f${i}.txt`), `file ${d}/${i}\n`)));
}
console.log(`made ${files} files in ${((Date.now() - t) / 1000).toFixed(1)} s`);
// The protocol stand-in, not the real server: 100k chunk ids through PostgreSQL take minutes on
// this shared box before the idle minute can even start; the idle cost is the agent's alone.
const azurite = await startAzurite({ inMemory: true });
const stateDir = join(await tmp("idle-state"), "agent");
const server = await new FakeServer({ azureConnectionString: azurite.connectionString, blobEndpoint: azurite.blobEndpoint, policy: { rpoSeconds: 60, includePaths: [watched] } }).start();
const e = await cli(["enroll", "--server", server.url, "--token", server.newToken(), "--state-dir", stateDir]);
if (e.code !== 0) throw new Error(e.out);
const bundle = fileURLToPath(new URL("../dist/tidemark-agent.mjs", import.meta.url));
t = Date.now();
// Run the way the installed service runs it (src/service.ts): same node flags and allocator settings.
const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, bundle, "run", "--state-dir", stateDir, ...process.argv.slice(4)], { stdio: "ignore", env: { ...process.env, ...SERVICE_ENV } });
// A bench killed half-way must not leave its agent running.
process.once("exit", () => child.kill("SIGKILL"));
const agent = { child, output: () => "", exited: new Promise<number | null>((r) => child.on("exit", r)) };
while (server.committed().length < 1) await new Promise((r) => setTimeout(r, 200));
console.log(`initial point (${server.committed()[0]!.stats.files} files) committed after ${((Date.now() - t) / 1000).toFixed(1)} s`);
const cpu = async () => {
  const f = (await readFile(`/proc/${child.pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
};
const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;
// The watcher's subscription (it crawls the tree) and the full walk that follows it are start-up
// work; the walk waits for rpo (60 s here) after the initial point. Wait 70 s, then until 5 s pass
// with under 2 % CPU (at most 3 min), before the idle window.
const settleStart = Date.now();
await new Promise((r) => setTimeout(r, 70_000));
for (;;) {
  const a = await cpu();
  await new Promise((r) => setTimeout(r, 5000));
  if ((await cpu()) - a < 0.1 || Date.now() - settleStart > 180_000) break;
}
console.log(`settled ${((Date.now() - settleStart) / 1000).toFixed(0)} s after the initial point`);
const c0 = await cpu();
let peak = 0;
for (let i = 0; i < seconds; i++) {
  await new Promise((r) => setTimeout(r, 1000));
  peak = Math.max(peak, await rss());
}
const used = (await cpu()) - c0;
console.log(`idle ${seconds} s watching ${files} files: CPU ${((used / seconds) * 100).toFixed(2)}% of a core, RSS now ${(await rss()).toFixed(0)} MiB (peak ${peak.toFixed(0)} MiB)`);
await stopAgent(agent);
await server.stop();
await azurite.stop();
await removeTmp();
