// Plain-JS entry for encoder workers. Node 20 does not apply `--import tsx`
// hooks to a worker's main module, so when the engine runs from .ts sources
// the worker registers tsx itself before importing the real worker module.
import { workerData } from "node:worker_threads";

const { tsxApi, entry } = workerData.boot;
if (tsxApi) {
  const { register } = await import(tsxApi);
  register();
}
await import(entry);
