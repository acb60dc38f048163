/**
 * Customer data keys. The data key IS the customer's repository master key
 * (what the agent derives its id/encryption/gear keys from). It exists in
 * clear only in memory: PostgreSQL holds it wrapped by the service KEK, and
 * the container holds the engine's own `keys/<id>` file wrapping it by the
 * same KEK, so the repository stays openable without the database.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { BlobNotFoundError, type BlobStore } from "@tidemark/storage";
import { sql } from "drizzle-orm";
import type { BlobAccount } from "./blob-account";
import { type CustomerScope, type Kek, unwrapDataKey, wrapDataKey } from "./kek";
import { keyFileSchema, Repository, type RepoConfig, unwrapKeyFile } from "./engine";

export type CustomerRepository = { dataKey: Buffer; config: RepoConfig; container: string };

/**
 * The customer's key and initialised repository, created on first need. An
 * advisory lock serialises concurrent first enrolments of one customer. If a
 * previous attempt initialised the container but its transaction rolled back,
 * the key is recovered from the container's KEK-wrapped key file.
 */
export async function ensureCustomerRepository(tx: DbOrTx, kek: Kek, blobs: BlobAccount, scope: CustomerScope): Promise<CustomerRepository> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${"tidemark.customer-key:" + scope.customerId}))`);
  const { name, base, store } = blobs.container(scope.customerId);
  const [row] = await tx.select().from(schema.customerKeys).where(scopeToCustomer(schema.customerKeys, scope));
  if (row?.repositoryConfig) {
    return { dataKey: unwrapDataKey(kek, scope.customerId, row.wrappedKey), config: row.repositoryConfig as RepoConfig, container: name };
  }
  await base.ensureContainer();
  let config: RepoConfig;
  if (await store.head("config")) {
    const repo = await Repository.open(store, { kek: kek.key });
    config = repo.config;
    await repo.close();
  } else {
    const repo = await Repository.init(store, { kek: kek.key }, { kekId: kek.id });
    config = repo.config;
    await repo.close();
  }
  const dataKey = await masterKeyOf(store, kek);
  await tx
    .insert(schema.customerKeys)
    .values({
      ...scope,
      kekId: kek.id,
      wrappedKey: wrapDataKey(kek, scope.customerId, dataKey),
      repositoryId: config.id,
      repositoryConfig: config,
      repositoryInitializedAt: new Date(),
    })
    .onConflictDoUpdate({
      target: schema.customerKeys.customerId,
      set: { kekId: kek.id, wrappedKey: wrapDataKey(kek, scope.customerId, dataKey), repositoryId: config.id, repositoryConfig: config, repositoryInitializedAt: new Date() },
    });
  return { dataKey, config, container: name };
}

/** The repository master key, from the engine key file our KEK wrapped. */
async function masterKeyOf(store: BlobStore, kek: Kek): Promise<Buffer> {
  for await (const m of store.list("keys/")) {
    let file;
    try {
      file = keyFileSchema.safeParse(JSON.parse((await store.get(m.key)).toString("utf8")));
    } catch (e) {
      if (e instanceof BlobNotFoundError || e instanceof SyntaxError) continue;
      throw e;
    }
    if (!file.success || file.data.kind !== "kek") continue;
    try {
      return await unwrapKeyFile(file.data, { kek: kek.key });
    } catch {
      // Wrapped by another KEK (or a password): keep looking.
    }
  }
  throw new Error(`${store.description}: no key file opens with ${kek.id}; the repository was created with another KEK`);
}
