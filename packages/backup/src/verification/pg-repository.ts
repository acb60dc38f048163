/**
 * The slice of the engine's Repository that its volume readers use
 * (`loadVolumeMap`, `restoreVolume`: blob reads, the index, the store, keys
 * and pack keys), served from the service's PostgreSQL index instead of the
 * container's index objects. Ids must be loaded into the PgIndex before the
 * engine looks them up synchronously (`loadIds`).
 */
import { packKey, type Repository } from "../engine";
import { PgIndex } from "../pg-index";
import { readChunk } from "../read";
import type { CustomerRepo } from "./context";

export type PgRepository = { repository: Repository; loadIds(ids: string[]): Promise<void> };

export function pgRepository(repo: Pick<CustomerRepo, "db" | "store" | "keys" | "scope">): PgRepository {
  const index = new PgIndex(repo.db, repo.scope);
  const loadIds = async (ids: string[]) => {
    const missing = ids.filter((id) => !index.lookup(id));
    if (missing.length > 0) await index.load(missing);
  };
  const repository = {
    store: repo.store,
    keys: repo.keys,
    index,
    packKey: (_packId: string, salt: Buffer) => packKey(repo.keys.enc, salt),
    readBlob: async (id: string) => {
      await loadIds([id]);
      return readChunk(repo.store, repo.keys, index, id);
    },
  } as unknown as Repository;
  return { repository, loadIds };
}
