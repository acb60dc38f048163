/**
 * The Azure account the service signs SAS tokens with and reads customer
 * containers from. It needs the account key (connection string or account +
 * key): an agent's upload SAS is signed with it, and a SAS URL cannot mint
 * other SAS URLs.
 */
import { BlobServiceClient, ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AzureBlobStore, type BlobStore, customerContainerName, withRetry } from "@tidemark/storage";

export type BlobAccountOptions =
  | { connectionString: string }
  | { account: string; accountKey: string; endpoint?: string };

export interface CustomerContainer {
  name: string;
  /** Unwrapped: ensureContainer, SAS signing. */
  base: AzureBlobStore;
  /** Retrying store for reads, HEADs and repository init. */
  store: BlobStore;
}

export interface BlobAccount {
  /** e.g. https://acct.blob.core.windows.net or Azurite's http://127.0.0.1:10000/devstoreaccount1 */
  readonly blobEndpoint: string;
  container(customerId: string): CustomerContainer;
  /**
   * Read + list (rl) for one container: a restore reads packs and lists the
   * engine's `index/` objects to find chunks stored by any machine of the
   * customer. Never write or delete.
   */
  readSas(customerId: string, expiresInMinutes: number): Promise<{ url: string; expiresOn: Date }>;
}

export function createBlobAccount(opts: BlobAccountOptions): BlobAccount {
  const containers = new Map<string, CustomerContainer>();
  const container = (customerId: string): CustomerContainer => {
    const name = customerContainerName(customerId);
    let c = containers.get(name);
    if (!c) {
      const base = new AzureBlobStore({ ...opts, container: name });
      c = { name, base, store: withRetry(base, { retries: 4, baseDelayMs: 100, maxDelayMs: 2_000, attemptTimeoutMs: 120_000 }) };
      containers.set(name, c);
    }
    return c;
  };
  // Signing needs only the account credential, not a connected store (AzureBlobStore loads the SDK lazily
  // and has no client before its first operation): one service client of our own, built synchronously.
  const service =
    "connectionString" in opts
      ? BlobServiceClient.fromConnectionString(opts.connectionString)
      : new BlobServiceClient(opts.endpoint ?? `https://${opts.account}.blob.core.windows.net`, new StorageSharedKeyCredential(opts.account, opts.accountKey));
  const blobEndpoint = service.url.replace(/\/+$/, "");
  return {
    blobEndpoint,
    container,
    async readSas(customerId, expiresInMinutes) {
      const client = service.getContainerClient(customerContainerName(customerId));
      const now = Date.now();
      const expiresOn = new Date(now + Math.min(60, Math.max(1, expiresInMinutes)) * 60_000);
      const url = await client.generateSasUrl({
        permissions: ContainerSASPermissions.parse("rl"),
        startsOn: new Date(now - 5 * 60_000),
        expiresOn,
        protocol: client.url.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
      });
      return { url, expiresOn };
    },
  };
}
