import { agentRoute } from "../_lib/agent-api";

export const dynamic = "force-dynamic";

export const POST = agentRoute("heartbeat");
