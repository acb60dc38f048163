/**
 * The engine pieces the service uses. Most come from its public entry; the
 * key-file reader and single-blob opener are not exported there yet, so they
 * are reached by path (see docs/handoff-backup.md for the request).
 */
export {
  BLOB_DATA,
  BLOB_TREE,
  decodeTree,
  isSafeName,
  type Tree,
  type TreeNode,
  deriveKeys,
  packKeyName,
  packIdFromKeyName,
  loadVolumeMap,
  restoreVolume,
  Repository,
  type BlobType,
  type Index,
  type IndexedPack,
  type IndexEntry,
  type PackBlob,
  type PackInfo,
  type RepoConfig,
  type RepoKeys,
} from "@tidemark/engine";
export { keyFileSchema, unwrapKeyFile } from "../../engine/src/crypto/keys";
export { packKey } from "../../engine/src/crypto/aead";
export { openBlob, parsePack } from "../../engine/src/pack/reader";
