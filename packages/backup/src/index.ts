export { AgentError } from "./errors";
export { createBlobAccount, type BlobAccount, type BlobAccountOptions, type CustomerContainer } from "./blob-account";
export { kekFrom, wrapDataKey, unwrapDataKey, customerDataKey, type Kek, type CustomerScope } from "./kek";
export { ensureCustomerRepository, type CustomerRepository } from "./keys";
export { PgIndex } from "./pg-index";
export { tokenBucket, type RateLimiter } from "./rate-limit";
export { createAgentServices, type AgentServices } from "./services";
export { authenticateMachine, revokeMachine, type MachineContext } from "./machine-auth";
export { effectivePolicy, policyEtag } from "./policy";
export { enrollAgent, type RequestMeta } from "./enroll";
export {
  heartbeat,
  uploadSession,
  missingChunks,
  reportPack,
  commitPoint,
  createRestoreJob,
  nextRestoreJob,
  restoreProgress,
  restoreResult,
  recordEvents,
  type NewRestoreJob,
} from "./agent";
export { readChunk, repositoryKeys, ChunkReadError } from "./read";
export {
  listRecoveryPoints,
  getRecoveryPoint,
  machineProtection,
  customerStorage,
  listRestoreJobs,
  cancelRestoreJob,
  listAgentEvents,
  storedBytesByMachine,
  rpoState,
  OFFLINE_AFTER_MS,
  type RpoState,
} from "./portal";
export { verifyIndexedPack, verifyReportedPack, pendingPacks, packVerifier, type PackVerification, type PackRef, type ReportedPackResult } from "./verify-pack";
export { PointFiles, customerFiles, pointRoot, fileVersions, diffPoints, previousPointRoot, splitPath, PathNotFound, type FileEntry, type FileVersion, type PointChange } from "./browse";
export { zipStream, ZipLimitError, type ZipEntry } from "./zip";
export { openDownload, type Download } from "./download";
export * from "./verification";
