export { blobStoreContract, type ContractOptions, type ContractStore } from "./contract";
export {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  azuriteConnectionString,
  startAzurite,
  type AzuriteHandle,
  type StartAzuriteOptions,
} from "./azurite";
