export { startWorker, type RunningWorker, type WorkerOptions } from "./worker";
export { bossDb, type QueryableDatabase } from "./boss-db";
export { lastHeartbeat, HEARTBEAT_QUEUE, type Heartbeat } from "./jobs/heartbeat";
