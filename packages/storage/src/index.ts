export type { BlobMeta, BlobStore, GetOptions, PutOptions } from "./blob-store";
export {
  BlobExistsError,
  BlobIntegrityError,
  BlobNotFoundError,
  InvalidKeyError,
  StorageError,
  isTransientError,
  isTransientStatus,
  type StorageErrorOptions,
} from "./errors";
export { MAX_KEY_LENGTH, validateKey, validatePrefix } from "./keys";
export { MemoryBlobStore, memoryStore, type MemoryStoreOptions } from "./memory";
export { LocalBlobStore, localStore, TEMP_PREFIX, type LocalStoreOptions } from "./local";
export {
  AzureBlobStore,
  azureStore,
  azureStoreOptionsSchema,
  customerContainerName,
  isValidContainerName,
  type AzureStoreOptions,
  type UploadSas,
} from "./azure";
export * from "./wrappers/index";
export { createStoreFromUrl, parseRepoUrl, type RepoStore, type StoreFromUrlOptions } from "./from-url";
