import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { createEnrollRoute as CreateEnrollRoute } from "@tidemark/backup/http/enroll";
import { nextRoute } from "../_lib/agent-api";

export const dynamic = "force-dynamic";

/**
 * TEMPORARY: enrolment initialises the customer's repository with the engine,
 * and Turbopack cannot bundle the engine's `./x.js` → `x.ts` imports
 * (vercel/next.js#82945). Until the engine drops the `.js` suffixes, this one
 * route loads @tidemark/backup/http/enroll through tsx at run time instead of
 * bundling it; then replace this file with
 * `export const POST = nextRoute(createEnrollRoute)`.
 */
async function loadEnrollRoute(): Promise<typeof CreateEnrollRoute> {
  const req = createRequire(join(process.cwd(), "package.json"));
  // The ESM build of tsx's API (require.resolve would pick the CommonJS one).
  const tsxApi = pathToFileURL(join(dirname(req.resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
  const entry = req.resolve("@tidemark/backup/http/enroll");
  const { tsImport } = (await import(/* turbopackIgnore: true */ /* webpackIgnore: true */ tsxApi)) as {
    tsImport(specifier: string, parent: string): Promise<{ createEnrollRoute: typeof CreateEnrollRoute }>;
  };
  return (await tsImport(pathToFileURL(entry).href, import.meta.url)).createEnrollRoute;
}

let loading: Promise<typeof CreateEnrollRoute> | undefined;

export const POST = nextRoute((svc) => {
  let handler: ReturnType<typeof CreateEnrollRoute> | undefined;
  return async (req, params) => {
    if (!handler) {
      loading ??= loadEnrollRoute().catch((err) => {
        loading = undefined;
        throw err;
      });
      try {
        handler = (await loading)(svc);
      } catch (err) {
        console.error("agent-api: loading the enrol route failed", err);
        return Response.json({ error: { code: "unavailable", message: "Enrolment is unavailable on this server; see the server log" } }, { status: 503 });
      }
    }
    return handler(req, params);
  };
});
