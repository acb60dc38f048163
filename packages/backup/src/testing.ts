/**
 * Test support: protects a local folder for a customer the way an agent
 * would end up doing it (engine backup into the customer's container, packs
 * indexed in PostgreSQL, the point committed), without the agent process.
 * For api/portal tests that need real recovery points to browse and download.
 * Also the server world of the backup and agent suites: a fresh database,
 * Azurite, the real agent services, an MSP with two customers, tokens.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Database, type DbOrTx, hashToken, newToken, openDatabase, schema } from "@tidemark/db";
import { createTestDatabase } from "@tidemark/db/testing";
import { backup } from "@tidemark/engine";
import { azuriteConnectionString, startAzurite, type AzuriteHandle } from "@tidemark/storage/testing";
import { type BlobAccount, createBlobAccount } from "./blob-account";
import { type AgentHandler, type AgentRouteName, createMachineRoutes } from "./http";
import { createEnrollRoute } from "./http/enroll";
import { kekFrom } from "./kek";
import { tokenBucket } from "./rate-limit";
import { type AgentServices, createAgentServices } from "./services";
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

export type World = {
  database: Database;
  /** Replaced when a test restarts Azurite on the same port (outage tests). */
  azurite: AzuriteHandle;
  svc: AgentServices;
  api: Record<AgentRouteName, AgentHandler>;
  mspId: string;
  a1: string;
  a2: string;
  stop(): Promise<void>;
};

/** PGlite is what the embedded portal runs on: the same flows must hold there. */
async function pgliteDatabase(): Promise<Database & { drop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tm-backup-pglite-"));
  const database = await openDatabase({ pgliteDir: dir });
  return {
    ...database,
    async drop() {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `azuriteLocation`: Azurite keeps its data on disk there (instead of in
 * memory) so a test can stop it and start it again on the same port.
 */
export async function createWorld(opts: { limiter?: Parameters<typeof tokenBucket>[0]; pglite?: boolean; azuriteLocation?: string } = {}): Promise<World> {
  const [database, azurite] = await Promise.all([
    opts.pglite ? pgliteDatabase() : createTestDatabase(),
    startAzurite(opts.azuriteLocation ? { location: opts.azuriteLocation } : { inMemory: true }),
  ]);
  const blobs = createBlobAccount({ connectionString: azuriteConnectionString(azurite.blobEndpoint) });
  const svc = createAgentServices({
    database,
    kek: kekFrom(randomBytes(32)),
    blobs,
    machineLimiter: opts.limiter ? tokenBucket(opts.limiter) : undefined,
    enrollLimiter: tokenBucket({ capacity: 1000, refillPerSecond: 1000 }),
    log: () => {},
  });
  const [msp] = await database.db.insert(schema.msps).values({ name: "Harbor IT" }).returning();
  const [a1, a2] = await database.db
    .insert(schema.customers)
    .values([
      { mspId: msp!.id, name: "Dental A1" },
      { mspId: msp!.id, name: "Law A2" },
    ])
    .returning();
  const world: World = {
    database,
    azurite,
    svc,
    api: { ...createMachineRoutes(svc), enroll: createEnrollRoute(svc) },
    mspId: msp!.id,
    a1: a1!.id,
    a2: a2!.id,
    async stop() {
      await database.drop();
      await world.azurite.stop();
    },
  };
  return world;
}

export async function issueToken(w: World, customerId: string, opts: { expiresAt?: Date } = {}): Promise<string> {
  const token = newToken();
  await w.database.db.insert(schema.enrollmentTokens).values({
    mspId: w.mspId,
    customerId,
    tokenHash: hashToken(token),
    expiresAt: opts.expiresAt ?? new Date(Date.now() + 3600_000),
  });
  return token;
}
