/**
 * Everything the agent uses from the engine, in one place. Most of it comes
 * through the engine's public entry; the pack/crypto internals the uploader
 * and the spool need are not exported there yet, so they are reached by path
 * (docs/handoff-agent.md, item 1). When they are exported only this file changes.
 */
export {
  Repository,
  backup,
  backupVolumes,
  restore,
  restoreVolume,
  deriveKeys,
  packKeyName,
  packIdFromKeyName,
  BLOB_TREE,
  BLOB_DATA,
  type RepoConfig,
  type BackupOptions,
  type BackupResult,
  type RestoreResult,
  type RepoKeys,
  type IndexedPack,
  type PackBlob,
  type Snapshot,
} from "@tidemark/engine";
export { wrapWithKek } from "../../packages/engine/src/crypto/keys";
export { sealObject, openObject } from "../../packages/engine/src/crypto/aead";
export { writeIndexObject, INDEX_PREFIX } from "../../packages/engine/src/index/repo-index";
export { parseTrailer, openBlob } from "../../packages/engine/src/pack/reader";
export { PackWriter } from "../../packages/engine/src/pack/writer";
export { SNAPSHOT_PREFIX } from "../../packages/engine/src/snapshot";
