/**
 * Gives a customer's repository a password key beside the service's KEK key,
 * the way an operator would before running the standalone CLI on it:
 * `node --import tsx e2e/add-password-key.ts <customerId>` with
 * AZURE_STORAGE_CONNECTION_STRING, E2E_KEK (base64) and TIDEMARK_PASSWORD set.
 * Prints the container name.
 */
import { Repository } from "@tidemark/engine";
import { AzureBlobStore, customerContainerName } from "@tidemark/storage";

const customerId = process.argv[2];
const { AZURE_STORAGE_CONNECTION_STRING: connectionString, E2E_KEK: kek, TIDEMARK_PASSWORD: password } = process.env;
if (!customerId || !connectionString || !kek || !password) {
  console.error("usage: add-password-key.ts <customerId> (AZURE_STORAGE_CONNECTION_STRING, E2E_KEK, TIDEMARK_PASSWORD)");
  process.exit(2);
}
const container = customerContainerName(customerId);
await Repository.addKey(new AzureBlobStore({ connectionString, container }), { kek: Buffer.from(kek, "base64") }, { password });
console.log(container);
