import { appRouter, createTRPCContext } from "@tidemark/api";
import { headers } from "next/headers";
import { getRuntime } from "./runtime";
import { portalServices } from "./services";

export async function getSession() {
  const { auth } = await getRuntime();
  return auth.api.getSession({ headers: await headers() });
}

/** Server components call procedures directly, with the same checks as the browser. */
export async function serverCaller() {
  const ctx = await createTRPCContext({ headers: await headers(), services: await portalServices() });
  return appRouter.createCaller(ctx);
}
