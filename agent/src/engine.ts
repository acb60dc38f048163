/**
 * Everything the agent uses from the engine, in one place. The engine has no
 * public entry point yet (its package `exports` names a missing src/index.ts),
 * so this file reaches into its sources; when the barrel lands only this file
 * changes. See docs/handoff-agent.md.
 */
export { Repository, type RepoConfig } from "../../packages/engine/src/repository.js";
export { backup, type BackupOptions, type BackupResult } from "../../packages/engine/src/backup/backup.js";
export { backupVolumes } from "../../packages/engine/src/backup/volume.js";
export { restore, type RestoreResult } from "../../packages/engine/src/restore/restore.js";
export { restoreVolume } from "../../packages/engine/src/restore/volume.js";
export { deriveKeys, wrapWithKek, type RepoKeys } from "../../packages/engine/src/crypto/keys.js";
export { sealObject, openObject } from "../../packages/engine/src/crypto/aead.js";
export { writeIndexObject, INDEX_PREFIX } from "../../packages/engine/src/index/repo-index.js";
export type { IndexedPack } from "../../packages/engine/src/index/index.js";
export { parseTrailer, openBlob } from "../../packages/engine/src/pack/reader.js";
export { PackWriter } from "../../packages/engine/src/pack/writer.js";
export { packKeyName, BLOB_TREE, BLOB_DATA, type PackBlob } from "../../packages/engine/src/pack/format.js";
export { SNAPSHOT_PREFIX, type Snapshot } from "../../packages/engine/src/snapshot.js";
