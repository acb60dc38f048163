/**
 * The agent API's process-wide services, built once on top of the portal
 * runtime (same database) and kept on globalThis for the same reason the
 * runtime is: Next loads route handlers as separate module graphs.
 */
import {
  type AgentHandler,
  type AgentServices,
  type BlobAccountOptions,
  createAgentServices,
  createBlobAccount,
  kekFrom,
} from "@tidemark/backup/http";
import { decodeKey, env } from "@tidemark/config";
import { enqueuePackVerification } from "@tidemark/worker";
import { getRuntime } from "~/server/runtime";
import { requiredSecret } from "~/server/secrets";

export class AgentApiUnavailable extends Error {}

async function blobAccountOptions(embedded: boolean): Promise<BlobAccountOptions> {
  const e = env();
  if (e.AZURE_STORAGE_CONNECTION_STRING) return { connectionString: e.AZURE_STORAGE_CONNECTION_STRING };
  if (e.AZURE_STORAGE_ACCOUNT && e.AZURE_STORAGE_KEY) return { account: e.AZURE_STORAGE_ACCOUNT, accountKey: e.AZURE_STORAGE_KEY };
  if (e.AZURE_STORAGE_SAS_URL) {
    throw new AgentApiUnavailable("The agent API signs per-customer SAS tokens and needs the account key: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY");
  }
  if (embedded) {
    // The embedded runtime pins Azurite to port 10000 (see ~/server/azurite); loaded lazily like there.
    const { azuriteConnectionString } = await import("@tidemark/storage/testing");
    return { connectionString: azuriteConnectionString("http://127.0.0.1:10000/devstoreaccount1") };
  }
  throw new AgentApiUnavailable("No Azure Storage account is configured: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY");
}

const KEY = Symbol.for("tidemark.portal.agent-services");
type Holder = { [KEY]?: Promise<AgentServices> };

export function agentServices(): Promise<AgentServices> {
  const holder = globalThis as Holder;
  holder[KEY] ??= (async () => {
    const runtime = await getRuntime();
    const kek = decodeKey(requiredSecret("TIDEMARK_KEK"));
    if (!kek) throw new AgentApiUnavailable("TIDEMARK_KEK must be 32 bytes encoded as base64 or hex");
    const blobs = createBlobAccount(await blobAccountOptions(runtime.embedded));
    return createAgentServices({
      database: runtime.database,
      kek: kekFrom(kek),
      blobs,
      // Reported packs are verified by the worker before anyone can trust them for long; when the
      // worker runs in its own process its 5-minute sweep picks them up instead.
      onPackIndexed: async (pack) => {
        if (runtime.worker) await enqueuePackVerification(runtime.worker.boss, pack);
      },
    });
  })().catch((err) => {
    // Not cached: the next request tries again.
    delete holder[KEY];
    throw err;
  });
  return holder[KEY];
}

/**
 * Adapts a handler factory to a Next route export: services are built on the
 * first request, dynamic segments arrive as Next's params promise, and a
 * start-up failure is a JSON 503 like every other agent API error.
 */
export function nextRoute(make: (svc: AgentServices) => AgentHandler) {
  let handler: AgentHandler | undefined;
  return async (req: Request, ctx: { params: Promise<Record<string, string>> }): Promise<Response> => {
    if (!handler) {
      try {
        handler = make(await agentServices());
      } catch (err) {
        const message = err instanceof AgentApiUnavailable ? err.message : "The agent API could not start; see the server log";
        if (!(err instanceof AgentApiUnavailable)) console.error("agent-api: start failed", err);
        return Response.json({ error: { code: "unavailable", message } }, { status: 503 });
      }
    }
    return handler(req, ctx?.params ? await ctx.params : undefined);
  };
}
