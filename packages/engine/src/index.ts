/** Public API of the engine (see README.md for the on-storage format). */
export { Repository, configSchema, DEFAULT_TREE_CACHE_BYTES, MAX_PACK_SIZE, MIN_PACK_SIZE, TRASH_PREFIX, type InitOptions, type RepoConfig, type RepoConfigInput } from "./repository";
export { EngineError, CorruptionError, RepositoryError, WrongPasswordError } from "./errors";
export { deriveKeys, wrapWithKek, DEFAULT_SCRYPT, type RepoKeys, type ScryptParams, type Unlock, type KeyFile } from "./crypto/keys";
// Sealed objects, index objects and pack internals: the agent re-seals subsets of packs and writes their index objects.
export { sealObject, openObject } from "./crypto/aead";
export { parseTrailer, openBlob, type ParsedPack } from "./pack/reader";
export { PackWriter, type FinishedPack } from "./pack/writer";
export { contentId, toHex, fromHex } from "./id";
export { DEFAULT_CHUNKER, FastCdc, gearTable, type ChunkerParams } from "./chunker/fastcdc";
export { DEFAULT_BLOCK_SIZE, readBlocks, isAllZero } from "./chunker/fixed";
export { BLOB_DATA, BLOB_TREE, packKeyName, packIdFromKeyName, type BlobType, type PackBlob } from "./pack/format";
export type { Index, IndexEntry, IndexedPack, PackInfo } from "./index/index";
export { RepoIndex, writeIndexObject, INDEX_PREFIX } from "./index/repo-index";
export { rebuildIndex, type RebuildReport } from "./index/rebuild";
export { BlobSaver, type SaverStats } from "./blob-saver";
export { encodeTree, decodeTree, isSafeName, isWindowsPath, recordPathParts, formatRecordPath, treePathParts, type Tree, type TreeNode } from "./tree";
export { snapshotSchema, SNAPSHOT_PREFIX, type Snapshot, type SnapshotStats, type VolumeRef } from "./snapshot";
export { backup, type BackupSource, type BackupOptions, type BackupProgress, type BackupResult } from "./backup/backup";
export { compileExcludes, type ExcludeMatcher } from "./backup/excludes";
export { backupVolumes, loadVolumeMap, loadVolumeMapBytes, decodeVolumeMap, type VolumeBlockRef, type VolumeMapBytes } from "./backup/volume";
export { EncoderPool } from "./backup/encoder-pool";
export { restore, RestoreTargetError, type RestoreOptions, type RestoreProgress, type RestoreResult } from "./restore/restore";
export { restoreVolume, type VolumeRestoreResult } from "./restore/volume";
export { readBlobs } from "./restore/blob-batch";
export { check, type CheckOptions, type CheckReport, type AffectedPoint, type DamagedChunk, type DamagedPack } from "./check";
export { applyRetention, parseDuration, isEmptyPolicy, type RetentionPolicy, type RetentionDecision, type PointInfo } from "./retention";
export { prune, markUsed, DEFAULT_GRACE_MS, type PruneOptions, type PruneReport } from "./prune";
export { diffTrees, type DiffEntry } from "./diff";
export { listTree, findChild, splitPointRef, type ListedNode } from "./ls";
export { repoStats, type RepoStats } from "./stats";
export {
  FILE_ATTRIBUTE,
  SETTABLE_ATTRIBUTES,
  windowsAttributeApplier,
  windowsAttributeInvocations,
  parseAttributeFailures,
  defaultAttributeApplier,
  spawnRunner,
  type AttributeApplier,
  type AttributeEntry,
  type Invocation,
  type Runner,
} from "./win-attrs";
