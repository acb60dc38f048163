/**
 * Azurite's Blob service, started inside this process (tests, and the
 * portal's embedded default when no Azure account is configured).
 *
 * PINNED / INTERNAL: Azurite has no public programmatic API. We load
 * `azurite/dist/src/blob/BlobServer` and `BlobConfiguration` — internal paths
 * that may move in any release — so `azurite` stays pinned at exactly 3.35.0.
 * Bumping it means re-running this package's tests (they start this server).
 *
 * Settings that matter:
 * - loose + skipApiVersionCheck: @azure/storage-blob 12.32 sends a newer
 *   x-ms-version than Azurite 3.35 accepts; loose ignores unsupported headers.
 * - no telemetry: Azurite only phones home if AzuriteTelemetryClient.init is
 *   called with telemetry on, which the CLI entry point does and we never do;
 *   access and debug logs are off too (they would write to stdout / ./debug.log).
 * - the data folder holds Azurite's Loki JSON databases and extent files; a
 *   stop() followed by a start on the same port + location serves the same
 *   data (the emulator's blob URLs embed the port, so keep it stable).
 * - in-memory mode gets its own chunk store instead of Azurite's process-wide
 *   shared one, so two in-memory servers in one process never see each other.
 */
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const require = createRequire(import.meta.url);

/** The emulator's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface StartAzuriteOptions {
  /** Fixed port (needed to restart on the same data). Default: a free port. */
  port?: number;
  /** Data folder. Default: a fresh temp folder removed on stop(). */
  location?: string;
  /** Keep everything in memory (fastest; nothing survives stop()). */
  inMemory?: boolean;
}

export interface AzuriteHandle {
  connectionString: string;
  /** e.g. http://127.0.0.1:41234/devstoreaccount1 */
  blobEndpoint: string;
  port: number;
  /** The data folder in use (undefined in memory). */
  location: string | undefined;
  stop(): Promise<void>;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  httpServer: { address(): AddressInfo | string | null };
}

type Ctor<T> = new (...args: any[]) => T; // eslint-disable-line @typescript-eslint/no-explicit-any

function loadAzurite() {
  const BlobServer = (require("azurite/dist/src/blob/BlobServer") as { default: Ctor<AzuriteServer> }).default;
  const BlobConfiguration = (require("azurite/dist/src/blob/BlobConfiguration") as { default: Ctor<object> }).default;
  const { MemoryExtentChunkStore, DEFAULT_EXTENT_MEMORY_LIMIT } = require(
    "azurite/dist/src/common/persistence/MemoryExtentStore",
  ) as { MemoryExtentChunkStore: Ctor<object>; DEFAULT_EXTENT_MEMORY_LIMIT: number };
  const { configLogger } = require("azurite/dist/src/common/Logger") as {
    configLogger(enable: boolean, file?: string): void;
  };
  return { BlobServer, BlobConfiguration, MemoryExtentChunkStore, DEFAULT_EXTENT_MEMORY_LIMIT, configLogger };
}

export function azuriteConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`;
}

export async function startAzurite(opts: StartAzuriteOptions = {}): Promise<AzuriteHandle> {
  const az = loadAzurite();
  az.configLogger(false);
  const inMemory = opts.inMemory ?? false;
  let location: string | undefined;
  let ownsLocation = false;
  if (!inMemory) {
    if (opts.location) {
      location = resolve(opts.location);
      await mkdir(location, { recursive: true });
    } else {
      location = await mkdtemp(join(tmpdir(), "tidemark-azurite-"));
      ownsLocation = true;
    }
  }
  const dataDir = location ?? tmpdir();
  const config = new az.BlobConfiguration(
    "127.0.0.1",
    opts.port ?? 0,
    5, // keep-alive timeout (s)
    join(dataDir, "__azurite_db_blob__.json"),
    join(dataDir, "__azurite_db_blob_extent__.json"),
    // A fresh array: Azurite's default one is a shared module constant.
    [{ locationId: "Default", locationPath: join(dataDir, "__blobstorage__"), maxConcurrency: 10 }],
    false, // access log
    undefined,
    false, // debug log
    undefined,
    true, // loose
    true, // skipApiVersionCheck
    "",
    "",
    "",
    undefined, // oauth
    false, // disableProductStyleUrl
    inMemory,
    inMemory ? new az.MemoryExtentChunkStore(az.DEFAULT_EXTENT_MEMORY_LIMIT) : undefined,
  );
  const server = new az.BlobServer(config);
  try {
    await server.start();
  } catch (err) {
    if (ownsLocation && location) await rm(location, { recursive: true, force: true });
    const code = (err as { code?: string }).code;
    if (code === "EADDRINUSE") throw new Error(`Azurite could not listen on 127.0.0.1:${opts.port}: port in use`);
    throw err;
  }
  const address = server.httpServer.address();
  if (!address || typeof address === "string") throw new Error("Azurite did not report a TCP port");
  const port = address.port;
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let stopped = false;
  return {
    connectionString: azuriteConnectionString(blobEndpoint),
    blobEndpoint,
    port,
    location,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      if (ownsLocation && location) await rm(location, { recursive: true, force: true });
    },
  };
}
