/**
 * The agent API's process-wide services, built once on top of the portal
 * runtime (same database) and kept on globalThis for the same reason the
 * runtime is: Next loads route handlers as separate module graphs.
 */
import { type BlobAccountOptions, createAgentServices, createBlobAccount, kekFrom } from "@tidemark/backup";
import { type AgentHandler, type AgentRouteName, createAgentApi } from "@tidemark/backup/http";
import { decodeKey, env } from "@tidemark/config";
import { getRuntime } from "~/server/runtime";
import { requiredSecret } from "~/server/secrets";

class AgentApiUnavailable extends Error {}

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

const KEY = Symbol.for("tidemark.portal.agent-api");
type Holder = { [KEY]?: Promise<Record<AgentRouteName, AgentHandler>> };

function agentApi(): Promise<Record<AgentRouteName, AgentHandler>> {
  const holder = globalThis as Holder;
  holder[KEY] ??= (async () => {
    const runtime = await getRuntime();
    const kek = decodeKey(requiredSecret("TIDEMARK_KEK"));
    if (!kek) throw new AgentApiUnavailable("TIDEMARK_KEK must be 32 bytes encoded as base64 or hex");
    const blobs = createBlobAccount(await blobAccountOptions(runtime.embedded));
    return createAgentApi(createAgentServices({ database: runtime.database, kek: kekFrom(kek), blobs }));
  })().catch((err) => {
    // Not cached: the next request tries again (e.g. after a transient storage error at start).
    delete holder[KEY];
    throw err;
  });
  return holder[KEY];
}

/** One route handler per protocol route; dynamic path segments arrive as Next's params promise. */
export function agentRoute(name: AgentRouteName) {
  return async (req: Request, ctx: { params: Promise<Record<string, string>> }): Promise<Response> => {
    let api;
    try {
      api = await agentApi();
    } catch (err) {
      const message = err instanceof AgentApiUnavailable ? err.message : "The agent API could not start; see the server log";
      if (!(err instanceof AgentApiUnavailable)) console.error("agent-api: start failed", err);
      return Response.json({ error: { code: "unavailable", message } }, { status: 503 });
    }
    return api[name](req, ctx?.params ? await ctx.params : undefined);
  };
}
