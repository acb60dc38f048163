/**
 * Restore-download throughput through the portal's download handler: a
 * folder of incompressible files is protected with the engine into Azurite,
 * then downloaded (single large file, and the folder as a ZIP) with every
 * chunk decrypted and verified. Prints MB/s.
 *   cd packages/api && npx tsx bench/download.ts [MiB]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBlobAccount, kekFrom } from "@tidemark/backup";
import { protectFolder } from "@tidemark/backup/testing";
import { azuriteConnectionString, startAzurite } from "@tidemark/storage/testing";
import { handleDownload } from "../src";
import { pgStack, seedWorld } from "../test/fixtures";

const mib = Number(process.argv[2] ?? 256);
const stack = await pgStack();
const azurite = await startAzurite({ inMemory: true });
const dir = await mkdtemp(join(tmpdir(), "tm-bench-dl-"));
try {
  const blobs = createBlobAccount({ connectionString: azuriteConnectionString(azurite.blobEndpoint) });
  const kek = kekFrom(randomBytes(32));
  stack.services.repositories = async () => ({ kek, blobs });
  const w = await seedWorld(stack);
  const src = join(dir, "data");
  await import("node:fs/promises").then((fs) => fs.mkdir(src));
  await writeFile(join(src, "big.bin"), randomBytes(mib * 1024 * 1024));
  for (let i = 0; i < 200; i++) await writeFile(join(src, `small-${i}.txt`), randomBytes(16 * 1024));
  const p = await protectFolder({ db: stack.database.db, kek, blobs, scope: { mspId: w.mspA.id, customerId: w.a1.id }, machineId: w.a1Machine.id, paths: [src] });
  const root = src.replace(/^\/+/, "");
  for (const [label, path] of [["one large file", `${root}/big.bin`], ["folder as zip", root]] as const) {
    const started = performance.now();
    const res = await handleDownload(new Request(`http://bench/api/files/download?${new URLSearchParams({ pointId: p.pointId, path })}`, { headers: w.techA.client.headers() }), stack.services);
    let bytes = 0;
    for await (const chunk of res.body!) bytes += chunk.byteLength;
    const s = (performance.now() - started) / 1000;
    console.log(`${label}: ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${s.toFixed(2)} s = ${(bytes / 1024 / 1024 / s).toFixed(1)} MiB/s`);
  }
} finally {
  await stack.database.drop();
  await azurite.stop();
  await rm(dir, { recursive: true, force: true });
}
