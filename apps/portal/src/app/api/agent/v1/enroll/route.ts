import { createEnrollRoute } from "@tidemark/backup/http/enroll";
import { nextRoute } from "../_lib/agent-api";

export const dynamic = "force-dynamic";

export const POST = nextRoute(createEnrollRoute);
