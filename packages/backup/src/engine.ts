/**
 * The engine pieces the service uses. @tidemark/engine has no public entry
 * (its package.json points at a src/index.ts that does not exist yet), so
 * they are reached by path; switch to `@tidemark/engine` once it exports
 * Repository, keyFileSchema, unwrapKeyFile and the Index types.
 */
export { Repository, type RepoConfig } from "../../engine/src/repository";
export { keyFileSchema, unwrapKeyFile } from "../../engine/src/crypto/keys";
export type { Index, IndexEntry, IndexedPack, PackInfo } from "../../engine/src/index/index";
export { BLOB_DATA, BLOB_TREE, packKeyName, type BlobType, type PackBlob } from "../../engine/src/pack/format";
export { deriveKeys, type RepoKeys } from "../../engine/src/crypto/keys";
export { packKey } from "../../engine/src/crypto/aead";
export { openBlob } from "../../engine/src/pack/reader";
