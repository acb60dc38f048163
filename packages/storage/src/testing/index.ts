export { blobStoreContract } from "./contract";
