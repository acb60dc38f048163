export { startWorker, type RunningWorker, type WorkerOptions } from "./worker";
export { bossDb, type QueryableDatabase } from "./boss-db";
export { lastHeartbeat, HEARTBEAT_QUEUE, type Heartbeat } from "./jobs/heartbeat";
export {
  enqueuePackVerification,
  registerPackVerification,
  sweepPendingPacks,
  VERIFY_PACK_QUEUE,
  VERIFY_PACK_SWEEP_QUEUE,
  type PackRef,
  type PackVerifier,
} from "./jobs/verify-pack";
