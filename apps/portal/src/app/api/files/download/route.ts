import { handleDownload } from "@tidemark/api";
import { portalServices } from "~/server/services";

export const dynamic = "force-dynamic";

/** A file, or a folder as a streamed ZIP, out of a recovery point (session + tenant gate: see @tidemark/api handleDownload). */
export async function GET(req: Request) {
  return handleDownload(req, await portalServices());
}
