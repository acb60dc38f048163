/**
 * Change → committed point latency at rpoSeconds=5 with the agent's production timings
 * (2 s debounce, 250 ms tick), through the fake protocol server and in-process Azurite.
 *   cd agent && npx tsx bench/latency.ts [samples]
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startAzurite } from "@tidemark/storage/testing";
import { FakeServer } from "../test/fake-server";
import { cli, removeTmp, stopAgent, tmp } from "../test/helpers";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const samples = Number(process.argv[2] ?? 20);
const azurite = await startAzurite({ inMemory: true });
const watched = await tmp("bench-watched");
const stateDir = join(await tmp("bench-state"), "agent");
const server = await new FakeServer({ azureConnectionString: azurite.connectionString, blobEndpoint: azurite.blobEndpoint, policy: { rpoSeconds: 5, includePaths: [watched] } }).start();
const e = await cli(["enroll", "--server", server.url, "--token", server.newToken(), "--state-dir", stateDir]);
if (e.code !== 0) throw new Error(e.out);
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const child = spawn(process.execPath, ["--import", "tsx", main, "run", "--state-dir", stateDir], { stdio: "ignore" });
const agent = { child, output: () => "", exited: new Promise<number | null>((r) => child.on("exit", r)) };
const until = async (f: () => boolean) => {
  while (!f()) await new Promise((r) => setTimeout(r, 20));
};
await until(() => server.committed().length >= 1);
const lat: number[] = [];
for (let i = 0; i < samples; i++) {
  // Changes arrive at random moments relative to the previous point (0–6 s later).
  await new Promise((r) => setTimeout(r, Math.random() * 6000));
  const n = server.committed().length;
  const t0 = Date.now();
  await writeFile(join(watched, `f${i % 5}.txt`), `change ${i} ${t0}`);
  await until(() => server.committed().length > n);
  lat.push(Date.now() - t0);
}
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]!;
console.log(`change → committed point, rpoSeconds=5, ${samples} samples: p50 ${(q(50) / 1000).toFixed(2)} s, p95 ${(q(95) / 1000).toFixed(2)} s, max ${(lat.at(-1)! / 1000).toFixed(2)} s`);
await stopAgent(agent);
await server.stop();
await azurite.stop();
await removeTmp();
