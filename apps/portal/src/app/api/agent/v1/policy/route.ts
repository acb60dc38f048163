import { agentRoute } from "../_lib/agent-api";

export const dynamic = "force-dynamic";

export const GET = agentRoute("policy");
