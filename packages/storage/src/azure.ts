/**
 * Azure Blob BlobStore for ONE container: the customer's container, which is
 * also its dedup and encryption domain. Block blobs only.
 *
 * - Objects up to singleShotLimit (64 MiB: the largest pack size the repository
 *   format allows; 16 MiB packs by default) go up in one Put Blob carrying x-ms-blob-content-md5, which
 *   the service verifies on arrival: each byte is hashed once. Larger ones are
 *   staged as blocks in parallel, each with a transactional MD5 (what the
 *   service verifies), and the commit records the whole-object MD5 on the blob
 *   (Put Block List stores it unverified; head() reports it): those bytes are
 *   hashed twice, which is why packs do not go that way.
 * - Create-only puts use `If-None-Match: *`, so two writers racing for one
 *   name get exactly one winner. Block ids carry a per-put nonce so racing
 *   writers can never commit each other's staged blocks.
 * - SDK retries are off by default (maxTries 1): wrap the store in withRetry,
 *   which owns backoff, jitter and per-attempt timeouts for the whole stack.
 * - Errors are rebuilt from status + code. SDK messages can embed request
 *   URLs, and those may carry SAS signatures, so they are never forwarded raw.
 * - The SDK is imported on first use, not with this module: it costs ~0.25 s
 *   of start-up that local repositories (the CLI, tests) should not pay.
 *   Options are still validated in the constructor.
 */
import { createHash, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { BlobServiceClient, ContainerClient, StoragePipelineOptions } from "@azure/storage-blob";
import { z } from "zod";
import type { BlobMeta, BlobStore, GetOptions, PutOptions } from "./blob-store";
import {
  BlobExistsError,
  BlobIntegrityError,
  BlobNotFoundError,
  StorageError,
  isTransientCode,
  isTransientStatus,
  rangeError,
  throwIfAborted,
} from "./errors";
import { validateKey, validatePrefix } from "./keys";
import { md5, sameBytes } from "./md5";

const MiB = 1024 * 1024;

type AzureSdk = typeof import("@azure/storage-blob");
let sdk: Promise<AzureSdk> | undefined;

/** Loads @azure/storage-blob once, when a store first talks to Azure. */
export function loadAzureSdk(): Promise<AzureSdk> {
  return (sdk ??= import("@azure/storage-blob"));
}

export const azureStoreOptionsSchema = z
  .object({
    /** The container. Optional only when sasUrl is a container SAS (the URL names it). */
    container: z.string().optional(),
    connectionString: z.string().min(1).optional(),
    account: z.string().min(1).optional(),
    accountKey: z.string().min(1).optional(),
    /** Blob endpoint for account + key, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1. */
    endpoint: z.url().optional(),
    /** Account SAS (service URL) or container SAS (container URL), including the query string. */
    sasUrl: z.url().optional(),
    /**
     * Objects up to this size go up in one request. 64 MiB covers the largest pack target: at 8 MiB a 16 MiB
     * pack went as blocks and its MD5 was computed twice (whole + per block), ~1 s of the uploading
     * thread per 600 MB here. (The SDK's own uploadData default is 256 MiB.)
     */
    singleShotLimit: z.number().int().min(1).max(256 * MiB).default(64 * MiB),
    blockSize: z.number().int().min(64 * 1024).max(100 * MiB).default(8 * MiB),
    /** Parallel block uploads per put. */
    uploadConcurrency: z.number().int().min(1).max(64).default(4),
    /** Results per list request (Azure's maximum is 5000). */
    listPageSize: z.number().int().min(1).max(5000).default(5000),
    /** Attempts the SDK makes itself; 1 leaves retrying to withRetry. */
    sdkMaxTries: z.number().int().min(1).max(10).default(1),
  })
  .refine(
    (o) => [o.connectionString, o.account ?? o.accountKey, o.sasUrl].filter((v) => v !== undefined).length === 1,
    { message: "give exactly one of: connectionString, account + accountKey, sasUrl" },
  )
  .refine((o) => (o.account === undefined) === (o.accountKey === undefined), {
    message: "account and accountKey go together",
  });

export type AzureStoreOptions = z.input<typeof azureStoreOptionsSchema>;

export interface UploadSas {
  /** Container URL with the SAS query string: hand it to ContainerClient / AzureBlobStore({ sasUrl }). */
  url: string;
  container: string;
  expiresOn: Date;
  /** Exactly "racw": read, add, create, write. No delete, no list. */
  permissions: string;
}

const uploadSasSchema = z.object({
  container: z.string().optional(),
  expiresInMinutes: z.number().int().min(1).max(60),
});

const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** Azure's container naming rules: 3–63 chars, lowercase letters, digits, single hyphens inside. */
export function isValidContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}

/**
 * The container of a customer: deterministic, valid, and readable by an
 * operator ("tm-acme-corp-1f3a9c0b7e"). The hash of the exact id keeps ids
 * that slugify alike ("ACME", "acme") in different containers.
 */
export function customerContainerName(customerId: string): string {
  const id = z.string().trim().min(1, "customerId must not be empty").parse(customerId);
  const hash = createHash("sha256").update(id, "utf8").digest("hex").slice(0, 10);
  const slug = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return slug ? `tm-${slug}-${hash}` : `tm-${hash}`;
}

interface SdkError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  details?: { errorCode?: string };
}

/** Removes anything secret-looking from text we might show (SAS signatures, keys). */
export function redact(text: string): string {
  return text
    .replace(/([?&;]sig=)[^&\s;"']*/gi, "$1REDACTED")
    .replace(/(AccountKey=)[^;\s"']*/gi, "$1REDACTED")
    .replace(/(SharedAccessSignature=)[^;\s"']*/gi, "$1REDACTED");
}

function parseSasUrl(sasUrl: string): { container: string | undefined; url: URL } {
  const url = new URL(sasUrl);
  if (!url.searchParams.get("sig")) throw new Error("sasUrl has no SAS signature (sig=…) in its query string");
  const segments = url.pathname.split("/").filter(Boolean);
  // Emulators and IP endpoints put the account name in the path.
  const pathStyle = isIP(url.hostname) !== 0 || url.hostname === "localhost";
  const rest = pathStyle ? segments.slice(1) : segments;
  return { container: rest[0] === undefined ? undefined : decodeURIComponent(rest[0]), url };
}

const DEV_ACCOUNT = "devstoreaccount1";

/** The account a blob URL names, as the SDK reads it: path-style for IPs and localhost, else the first host label. */
function accountFromUrl(url: URL): string | undefined {
  const pathStyle = isIP(url.hostname) !== 0 || url.hostname === "localhost";
  const name = pathStyle ? url.pathname.split("/").filter(Boolean)[0] : url.hostname.split(".")[0];
  return name ? decodeURIComponent(name) : undefined;
}

/**
 * Enough of a connection string to name the account without loading the SDK
 * (which parses it again, authoritatively, on first use).
 */
function accountFromConnectionString(cs: string): string | undefined {
  const fields = new Map<string, string>();
  for (const part of cs.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  if (fields.get("usedevelopmentstorage")?.toLowerCase() === "true") return DEV_ACCOUNT;
  const named = fields.get("accountname");
  if (named) return named;
  const endpoint = fields.get("blobendpoint");
  if (!endpoint) return undefined;
  try {
    return accountFromUrl(new URL(endpoint));
  } catch {
    return undefined;
  }
}

interface Clients {
  sdk: AzureSdk;
  service: BlobServiceClient | undefined;
  container: ContainerClient;
}

export class AzureBlobStore implements BlobStore {
  readonly description: string;
  readonly container: string;
  private readonly opts: z.output<typeof azureStoreOptionsSchema>;
  private readonly sasUrl: URL | undefined;
  private clients: Promise<Clients> | undefined;
  private connected: Clients | undefined;

  constructor(options: AzureStoreOptions) {
    const parsed = azureStoreOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new StorageError(`invalid Azure store options: ${parsed.error.issues[0]?.message}`, { backend: "azure" });
    }
    const o = parsed.data;
    this.opts = o;
    let container = o.container;
    let account: string | undefined;
    if (o.sasUrl) {
      let sas;
      try {
        sas = parseSasUrl(o.sasUrl);
      } catch (err) {
        throw new StorageError(`invalid sasUrl: ${redact((err as Error).message)}`, { backend: "azure" });
      }
      if (sas.container !== undefined) {
        if (container !== undefined && container !== sas.container) {
          throw new StorageError(`sasUrl is for container "${sas.container}", not "${container}"`, { backend: "azure" });
        }
        container = sas.container;
      }
      this.sasUrl = sas.url;
      account = accountFromUrl(sas.url);
    } else if (o.connectionString) {
      account = accountFromConnectionString(o.connectionString);
      if (account === undefined) {
        throw new StorageError("invalid Azure connection string: it names no AccountName, BlobEndpoint or UseDevelopmentStorage", { backend: "azure" });
      }
    } else {
      account = o.account;
    }
    if (container === undefined) {
      throw new StorageError("a container is required (or a container SAS URL)", { backend: "azure" });
    }
    if (!isValidContainerName(container)) {
      throw new StorageError(
        `invalid container name "${container}": 3–63 lowercase letters, digits and single hyphens`,
        { backend: "azure" },
      );
    }
    this.container = container;
    this.description = `azure:${account ?? "?"}/${container}`;
  }

  /** The SDK clients, created on first use (the SDK is loaded then). */
  private connect(): Promise<Clients> {
    this.clients ??= (async () => {
      const sdk = await loadAzureSdk();
      const o = this.opts;
      const pipeline: StoragePipelineOptions = { retryOptions: { maxTries: o.sdkMaxTries } };
      let service: BlobServiceClient | undefined;
      if (this.sasUrl) {
        if (parseSasUrl(this.sasUrl.toString()).container !== undefined) {
          return { sdk, service, container: new sdk.ContainerClient(this.sasUrl.toString(), undefined, pipeline) };
        }
        service = new sdk.BlobServiceClient(this.sasUrl.toString(), undefined, pipeline);
      } else if (o.connectionString) {
        try {
          service = sdk.BlobServiceClient.fromConnectionString(o.connectionString, pipeline);
        } catch (err) {
          throw new StorageError(`invalid Azure connection string: ${redact((err as Error).message)}`, { backend: "azure" });
        }
      } else {
        const endpoint = o.endpoint ?? `https://${o.account}.blob.core.windows.net`;
        service = new sdk.BlobServiceClient(endpoint, new sdk.StorageSharedKeyCredential(o.account!, o.accountKey!), pipeline);
      }
      return { sdk, service, container: service.getContainerClient(this.container) };
    })();
    return this.clients.then((c) => (this.connected = c));
  }

  /** The SDK's client for this container; available once the store has been used (e.g. after ensureContainer). */
  get containerClient(): ContainerClient {
    if (!this.connected) throw new StorageError(`${this.description} has not connected yet: call an operation first`, { backend: this.description });
    return this.connected.container;
  }

  /** Creates the container when missing (needs an account-level credential). */
  async ensureContainer(): Promise<void> {
    try {
      await (await this.connect()).container.createIfNotExists();
    } catch (err) {
      throw this.mapError(err, "creating container", undefined);
    }
  }

  /**
   * A short-lived SAS for one container allowing create/write/add/read only —
   * no delete, no list — which is what an agent needs to upload packs. Signed
   * with the account key, so it needs a connection string or account + key.
   */
  async createContainerUploadSas(options: { container?: string; expiresInMinutes: number }): Promise<UploadSas> {
    const parsed = uploadSasSchema.safeParse(options);
    if (!parsed.success) {
      throw new StorageError(`invalid upload SAS request: expiresInMinutes must be an integer from 1 to 60`, {
        backend: this.description,
      });
    }
    const container = parsed.data.container ?? this.container;
    if (!isValidContainerName(container)) {
      throw new StorageError(`invalid container name "${container}"`, { backend: this.description });
    }
    const { sdk, service } = await this.connect();
    const { ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } = sdk;
    const credential = service?.credential;
    if (!(credential instanceof StorageSharedKeyCredential)) {
      throw new StorageError("creating a SAS needs the account key (connection string with AccountKey, or account + key)", {
        backend: this.description,
      });
    }
    const now = Date.now();
    const expiresOn = new Date(now + parsed.data.expiresInMinutes * 60_000);
    const client = service!.getContainerClient(container);
    const permissions = ContainerSASPermissions.parse("racw").toString();
    const sas = generateBlobSASQueryParameters(
      {
        containerName: container,
        permissions: ContainerSASPermissions.parse(permissions),
        // Tolerate clock skew between us and the storage service.
        startsOn: new Date(now - 5 * 60_000),
        expiresOn,
        protocol: client.url.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
      },
      credential,
    ).toString();
    return { url: `${client.url}?${sas}`, container, expiresOn, permissions };
  }

  async put(key: string, data: Uint8Array, opts: PutOptions = {}): Promise<void> {
    validateKey(this.description, key);
    throwIfAborted(opts.signal);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const conditions = opts.ifNotExists ? { ifNoneMatch: "*" } : undefined;
    try {
      const blob = (await this.connect()).container.getBlockBlobClient(key);
      if (body.length <= this.opts.singleShotLimit) {
        await blob.upload(body, body.length, {
          conditions,
          // Put Blob verifies x-ms-blob-content-md5 against the bytes it received.
          blobHTTPHeaders: { blobContentMD5: opts.contentMD5 ?? md5(body) },
          abortSignal: opts.signal,
        });
        return;
      }
      const digest = md5(body);
      if (opts.contentMD5 && !sameBytes(opts.contentMD5, digest)) throw new BlobIntegrityError(this.description, key);
      const nonce = randomBytes(12).toString("hex");
      const ids: string[] = [];
      for (let off = 0, i = 0; off < body.length; off += this.opts.blockSize, i++) {
        ids.push(Buffer.from(`${nonce}-${String(i).padStart(6, "0")}`).toString("base64"));
      }
      let next = 0;
      const stageNext = async (): Promise<void> => {
        while (next < ids.length) {
          const i = next++;
          const block = body.subarray(i * this.opts.blockSize, (i + 1) * this.opts.blockSize);
          await blob.stageBlock(ids[i]!, block, block.length, {
            transactionalContentMD5: md5(block),
            abortSignal: opts.signal,
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.opts.uploadConcurrency, ids.length) }, stageNext));
      await blob.commitBlockList(ids, {
        conditions,
        blobHTTPHeaders: { blobContentMD5: digest },
        abortSignal: opts.signal,
      });
    } catch (err) {
      throw this.mapError(err, "writing", key, { ifNotExists: opts.ifNotExists });
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Buffer> {
    validateKey(this.description, key);
    throwIfAborted(opts.signal);
    const offset = opts.offset ?? 0;
    const { length } = opts;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw rangeError(this.description, key, `offset must be a non-negative integer, got ${offset}`);
    }
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
      throw rangeError(this.description, key, `length must be a non-negative integer, got ${length}`);
    }
    // The SDK reads count 0 as "to the end", and Azure answers a range that
    // starts at the end with 416: settle those cases from the object's size.
    if (length === 0) return this.emptyRange(key, offset);
    try {
      const blob = (await this.connect()).container.getBlobClient(key);
      const res = await blob.download(offset, length, { abortSignal: opts.signal });
      const total = totalFromContentRange(res.contentRange);
      if (total !== undefined && offset > total) throw rangeError(this.description, key, beyondEnd(offset, total));
      const buf = await readAll(res.readableStreamBody);
      if (res.contentLength !== undefined && buf.length !== res.contentLength) {
        throw new StorageError(`short read of ${key}: got ${buf.length} of ${res.contentLength} bytes`, {
          backend: this.description,
          key,
          transient: true,
          code: "SHORT_READ",
        });
      }
      return buf;
    } catch (err) {
      if ((err as SdkError).statusCode === 416) return this.emptyRange(key, offset);
      throw this.mapError(err, "reading", key);
    }
  }

  async head(key: string): Promise<BlobMeta | null> {
    validateKey(this.description, key);
    try {
      const p = await (await this.connect()).container.getBlobClient(key).getProperties();
      return {
        key,
        size: p.contentLength ?? 0,
        etag: p.etag,
        lastModified: p.lastModified,
        contentMD5: p.contentMD5 ? Buffer.from(p.contentMD5) : undefined,
      };
    } catch (err) {
      if ((err as SdkError).statusCode === 404) return null;
      throw this.mapError(err, "reading properties of", key);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobMeta> {
    validatePrefix(this.description, prefix);
    let client: ContainerClient;
    try {
      client = (await this.connect()).container;
    } catch (err) {
      throw this.mapError(err, "listing", prefix);
    }
    const pages = client
      .listBlobsFlat({ prefix: prefix === "" ? undefined : prefix })
      .byPage({ maxPageSize: this.opts.listPageSize });
    while (true) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.mapError(err, "listing", prefix);
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        const p = item.properties;
        yield {
          key: item.name,
          size: p.contentLength ?? 0,
          etag: p.etag,
          lastModified: p.lastModified,
          contentMD5: p.contentMD5 ? Buffer.from(p.contentMD5) : undefined,
        };
      }
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(this.description, key);
    try {
      await (await this.connect()).container.getBlobClient(key).deleteIfExists({ deleteSnapshots: "include" });
    } catch (err) {
      if ((err as SdkError).statusCode === 404) return;
      throw this.mapError(err, "deleting", key);
    }
  }

  private async emptyRange(key: string, offset: number): Promise<Buffer> {
    const meta = await this.head(key);
    if (!meta) throw new BlobNotFoundError(this.description, key);
    if (offset > meta.size) throw rangeError(this.description, key, beyondEnd(offset, meta.size));
    return Buffer.alloc(0);
  }

  /** SDK error → our error classes, with a message built from status and code only. */
  private mapError(err: unknown, action: string, key: string | undefined, ctx: { ifNotExists?: boolean } = {}): Error {
    if (err instanceof StorageError) return err;
    const e = (err ?? {}) as SdkError;
    if (e.name === "AbortError") return err as Error;
    const status = e.statusCode;
    const code = e.code ?? e.details?.errorCode;
    const backend = this.description;
    const what = key === undefined ? action : `${action} ${key}`;
    if (status === 404) {
      if (code === "ContainerNotFound") {
        return new StorageError(`container ${this.container} does not exist (${what})`, { backend, key, status, code });
      }
      if (key !== undefined && action !== "listing") return new BlobNotFoundError(backend, key);
    }
    if ((status === 409 || status === 412) && ctx.ifNotExists && key !== undefined) {
      return new BlobExistsError(backend, key);
    }
    if (status === 400 && key !== undefined && (code === "Md5Mismatch" || code === "InvalidMd5" || /md5/i.test(e.message ?? ""))) {
      return new BlobIntegrityError(backend, key);
    }
    if (status === 403) {
      return new StorageError(`access denied ${what} (403 ${code ?? ""}): the credential does not allow this`.replace(" )", ")"), {
        backend,
        key,
        status,
        code,
      });
    }
    if (status !== undefined) {
      return new StorageError(`${what} failed: HTTP ${status}${code ? ` ${code}` : ""}`, {
        backend,
        key,
        status,
        code,
        transient: isTransientStatus(status),
      });
    }
    const netCode = e.code;
    const detail = redact((e.message ?? String(err)).split("\n")[0] ?? "").slice(0, 200);
    return new StorageError(`${what} failed: ${netCode ?? "network error"}${detail ? ` (${detail})` : ""}`, {
      backend,
      key,
      code: netCode,
      // Without an HTTP status the request never got an answer: worth retrying.
      transient: isTransientCode(netCode) || netCode === undefined || e.name === "RestError",
    });
  }
}

function beyondEnd(offset: number, size: number): string {
  return `offset ${offset} is beyond the end of the ${size}-byte object`;
}

function totalFromContentRange(range: string | undefined): number | undefined {
  const m = range ? /\/(\d+)\s*$/.exec(range) : null;
  return m ? Number(m[1]) : undefined;
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function azureStore(options: AzureStoreOptions): AzureBlobStore {
  return new AzureBlobStore(options);
}
