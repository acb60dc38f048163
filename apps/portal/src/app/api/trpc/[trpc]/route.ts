import { appRouter, createTRPCContext } from "@tidemark/api";
import { resolvedHeaders } from "@tidemark/auth";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { portalServices } from "~/server/services";

export const dynamic = "force-dynamic";

async function handler(req: Request) {
  const services = await portalServices();
  // The audit log records the client address only as resolved from TRUSTED_PROXIES.
  const headers = resolvedHeaders(req.headers);
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers, services }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`trpc ${path ?? "?"}:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
