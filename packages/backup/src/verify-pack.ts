/**
 * Cross-checks what the index says about a pack against the pack itself:
 * its bytes hash to its id, its trailer decrypts with the customer's key,
 * and every indexed entry is exactly one of the trailer's entries. An agent
 * that reported wrong offsets (bug or malice) would otherwise make every
 * machine of the customer deduplicate against chunks that are not there.
 * Reads the whole pack: meant for the worker, after `POST packs`.
 */
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";
import { BlobNotFoundError, type BlobStore } from "@tidemark/storage";
import { and, eq, sql } from "drizzle-orm";
import { packKeyName, parsePack, type RepoKeys } from "./engine";
import type { CustomerScope } from "./kek";

export type PackVerification = { packId: string; ok: boolean; problems: string[] };

export async function verifyIndexedPack(db: DbOrTx, store: BlobStore, keys: RepoKeys, scope: CustomerScope, packId: string): Promise<PackVerification> {
  const problems: string[] = [];
  const [pack] = await db
    .select()
    .from(schema.packs)
    .where(and(scopeToCustomer(schema.packs, scope), eq(schema.packs.packId, packId)));
  if (!pack) return { packId, ok: false, problems: ["pack is not indexed"] };
  let bytes: Buffer;
  try {
    bytes = await store.get(packKeyName(packId));
  } catch (e) {
    if (e instanceof BlobNotFoundError) return { packId, ok: false, problems: ["pack object is missing from storage"] };
    throw e;
  }
  if (bytes.length !== pack.size) problems.push(`stored size ${bytes.length} differs from indexed size ${pack.size}`);
  let parsed;
  try {
    parsed = parsePack(keys, packId, bytes);
  } catch (e) {
    return { packId, ok: false, problems: [...problems, (e as Error).message] };
  }
  if (!parsed.salt.equals(pack.salt)) problems.push("indexed salt differs from the pack header");
  const inPack = new Map(parsed.blobs.map((b) => [b.id.toString("hex"), b]));
  const c = schema.chunkIndex;
  const rows = await db
    .select({ id: sql<string>`encode(${c.chunkId}, 'hex')`, offset: c.offset, length: c.length, rawLength: c.rawLength, type: c.type })
    .from(c)
    .where(and(scopeToCustomer(c, scope), eq(c.packId, packId)));
  for (const r of rows) {
    const b = inPack.get(r.id);
    if (!b) problems.push(`chunk ${r.id} is indexed in this pack but not in its trailer`);
    else if (b.offset !== r.offset || b.length !== r.length || b.rawLength !== r.rawLength || b.type !== r.type) {
      problems.push(`chunk ${r.id}: indexed at ${r.offset}+${r.length}, trailer says ${b.offset}+${b.length}`);
    }
  }
  return { packId, ok: problems.length === 0, problems };
}
