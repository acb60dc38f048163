import { agentRoute } from "../_lib/machine-routes";

export const dynamic = "force-dynamic";

export const POST = agentRoute("points");
