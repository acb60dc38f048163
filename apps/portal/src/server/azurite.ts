import { join } from "node:path";
import { dataDir, env } from "@tidemark/config";
import type { AzuriteHandle } from "@tidemark/storage/testing";

/** Embedded Azurite on its fixed port unless the operator configured Azure Storage. */
export async function maybeStartAzurite(log: (line: string) => void): Promise<AzuriteHandle | null> {
  const config = env();
  if (config.AZURE_STORAGE_CONNECTION_STRING || config.AZURE_STORAGE_ACCOUNT || config.AZURE_STORAGE_SAS_URL) return null;
  // Loaded lazily: production with Azure settings never touches the emulator.
  const { startAzurite } = await import("@tidemark/storage/testing");
  const location = join(dataDir(), "azurite");
  // Blob URLs embed the port, so the embedded default keeps 10000 across restarts.
  const azurite = await startAzurite({ location, port: 10000 });
  log(`azurite: ${azurite.blobEndpoint} (data in ${location})`);
  return azurite;
}
