/**
 * Opens the store a repository string names, the way the CLI's --repo does:
 *
 *   ./dir, ../dir, /abs/dir, file:///abs/dir  → local filesystem
 *   azure://CONTAINER                         → Azure Blob, account from the environment:
 *       AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY,
 *       or AZURE_STORAGE_SAS_URL (account or container SAS)
 *
 * The result is wrapped in retry + a concurrency limit, ready for the engine.
 */
import { fileURLToPath } from "node:url";
import { env, type Env } from "@tidemark/config";
import type { BlobStore } from "./blob-store";
import { AzureBlobStore, isValidContainerName } from "./azure";
import { StorageError } from "./errors";
import { LocalBlobStore } from "./local";
import { withConcurrencyLimit } from "./wrappers/limit";
import { withRetry, type RetryOptions } from "./wrappers/retry";

type AzureEnv = Pick<
  Env,
  "AZURE_STORAGE_CONNECTION_STRING" | "AZURE_STORAGE_ACCOUNT" | "AZURE_STORAGE_KEY" | "AZURE_STORAGE_SAS_URL"
>;

export interface StoreFromUrlOptions {
  /** Overrides of the default retry policy (6 retries, 200 ms → 15 s, full jitter; 15 min per Azure attempt). */
  retry?: Partial<RetryOptions>;
  /** Operations in flight at once (default 16 for Azure, 8 for local). */
  concurrency?: number;
  /** The Azure settings to use instead of the process environment (tests). */
  env?: AzureEnv;
}

export interface RepoStore extends BlobStore {
  readonly kind: "local" | "azure";
  /** The unwrapped backend (e.g. for createContainerUploadSas). */
  readonly base: LocalBlobStore | AzureBlobStore;
  /** Creates what the repository lives in: the container, or nothing for local (puts create folders). */
  prepare(): Promise<void>;
}

const DEFAULT_RETRY: RetryOptions = { retries: 6, baseDelayMs: 200, maxDelayMs: 15_000 };

export function parseRepoUrl(repo: string): { kind: "local"; path: string } | { kind: "azure"; container: string } {
  const value = repo.trim();
  const fail = (why: string) =>
    new StorageError(`invalid repository "${repo}": ${why}`, { backend: "repository", code: "INVALID_REPO_URL" });
  if (value === "") throw fail("it is empty; use ./dir, /abs/dir or azure://CONTAINER");
  if (value.startsWith("azure://")) {
    const container = value.slice("azure://".length).replace(/\/+$/, "");
    if (!isValidContainerName(container)) {
      throw fail("the container must be 3–63 lowercase letters, digits and single hyphens (azure://CONTAINER)");
    }
    return { kind: "azure", container };
  }
  if (value.startsWith("file://")) return { kind: "local", path: fileURLToPath(value) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw fail("unsupported scheme; use ./dir, /abs/dir or azure://CONTAINER");
  return { kind: "local", path: value };
}

function azureFromEnv(container: string, e: AzureEnv): AzureBlobStore {
  if (e.AZURE_STORAGE_CONNECTION_STRING) {
    return new AzureBlobStore({ connectionString: e.AZURE_STORAGE_CONNECTION_STRING, container });
  }
  if (e.AZURE_STORAGE_ACCOUNT || e.AZURE_STORAGE_KEY) {
    if (!e.AZURE_STORAGE_ACCOUNT || !e.AZURE_STORAGE_KEY) {
      throw new StorageError("AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY must be set together", { backend: "azure" });
    }
    return new AzureBlobStore({ account: e.AZURE_STORAGE_ACCOUNT, accountKey: e.AZURE_STORAGE_KEY, container });
  }
  if (e.AZURE_STORAGE_SAS_URL) return new AzureBlobStore({ sasUrl: e.AZURE_STORAGE_SAS_URL, container });
  throw new StorageError(
    `azure://${container} needs AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_URL`,
    { backend: "azure" },
  );
}

export function createStoreFromUrl(repo: string, opts: StoreFromUrlOptions = {}): RepoStore {
  const target = parseRepoUrl(repo);
  const base =
    target.kind === "azure" ? azureFromEnv(target.container, opts.env ?? env()) : new LocalBlobStore({ root: target.path });
  const concurrency = opts.concurrency ?? (target.kind === "azure" ? 16 : 8);
  // A stalled socket must not hang a backup forever; 15 min still lets a 64 MiB pack crawl up at ~0.6 Mbit/s.
  const attemptTimeoutMs = target.kind === "azure" ? 15 * 60_000 : undefined;
  const retry = { ...DEFAULT_RETRY, attemptTimeoutMs, ...opts.retry };
  const wrapped = withConcurrencyLimit(withRetry(base, retry), concurrency);
  return {
    kind: target.kind,
    base,
    description: base.description,
    put: (k, d, o) => wrapped.put(k, d, o),
    get: (k, o) => wrapped.get(k, o),
    head: (k) => wrapped.head(k),
    list: (p) => wrapped.list(p),
    delete: (k) => wrapped.delete(k),
    close: () => wrapped.close(),
    prepare: async () => {
      if (base instanceof AzureBlobStore) await base.ensureContainer();
    },
  };
}
