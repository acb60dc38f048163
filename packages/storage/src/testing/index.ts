/**
 * Test and embedded-runtime helpers that are safe to import anywhere (no
 * vitest here: the portal loads startAzurite from this entry at run time).
 * The contract suite lives at "@tidemark/storage/contract" because it imports vitest.
 */
export {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  azuriteConnectionString,
  startAzurite,
  type AzuriteHandle,
  type StartAzuriteOptions,
} from "./azurite";
export { withFaults, FaultyBlobStore, seededRandom, type FaultRule, type FaultOptions } from "../wrappers/faults";
export { MemoryBlobStore, memoryStore } from "../memory";
