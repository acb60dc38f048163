/**
 * Test support: protects a local folder for a customer the way an agent
 * would end up doing it (engine backup into the customer's container, packs
 * indexed in PostgreSQL, the point committed), without the agent process.
 * For api/portal tests that need real recovery points to browse and download.
 */
import { randomUUID } from "node:crypto";
import { type DbOrTx, schema } from "@tidemark/db";
import { backup } from "@tidemark/engine";
import type { BlobAccount } from "./blob-account";
import { type BlobType, type IndexedPack, Repository } from "./engine";
import type { CustomerScope, Kek } from "./kek";
import { ensureCustomerRepository } from "./keys";
import { PgIndex } from "./pg-index";

export type ProtectedPoint = { pointId: string; snapshotId: string; rootTree: string; time: Date };

export async function protectFolder(
  opts: { db: DbOrTx; kek: Kek; blobs: BlobAccount; scope: CustomerScope; machineId: string; paths: string[]; time?: Date },
): Promise<ProtectedPoint> {
  const { db, kek, blobs, scope } = opts;
  await db.transaction((tx) => ensureCustomerRepository(tx as never, kek, blobs, scope));
  const repo = await Repository.open(blobs.container(scope.customerId).store, { kek: kek.key });
  try {
    const result = await backup(repo, { paths: opts.paths, workers: 0, host: "test-host", parent: "auto" });
    const byPack = new Map<string, IndexedPack>();
    for (const info of repo.index.packs()) byPack.set(info.id, { ...info, blobs: [] });
    for (const [id, e] of repo.index.entries()) {
      byPack.get(e.pack)!.blobs.push({ id: Buffer.from(id, "hex"), type: e.type as BlobType, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
    const index = new PgIndex(db, scope, { uploadedByMachineId: opts.machineId });
    index.addPacks([...byPack.values()]);
    await index.flush();
    const s = result.snapshot;
    const time = opts.time ?? new Date(s.time);
    const manifest = { time: time.toISOString(), host: s.host, sources: s.paths, rootTree: s.tree, volumes: s.volumes, consistency: s.consistency, stats: s.stats, errors: s.errors, snapshotId: result.id };
    const [row] = await db
      .insert(schema.recoveryPoints)
      .values({ ...scope, machineId: opts.machineId, clientPointId: randomUUID(), snapshotId: result.id, manifest, time, consistency: s.consistency, stats: s.stats, errors: s.errors })
      .returning({ id: schema.recoveryPoints.id });
    return { pointId: row!.id, snapshotId: result.id, rootTree: s.tree, time };
  } finally {
    await repo.close();
  }
}
