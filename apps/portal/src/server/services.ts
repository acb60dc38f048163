/**
 * What tRPC procedures and the download route get: the runtime's services
 * plus lazy access to customers' repositories (same KEK and blob account as
 * the agent API, built on first use so a portal without storage still serves
 * everything else).
 */
import type { Services } from "@tidemark/api";
import { agentServices } from "~/app/api/agent/v1/_lib/agent-api";
import { getRuntime } from "./runtime";

const repositories = async () => {
  const { kek, blobs } = await agentServices();
  return { kek, blobs };
};

export async function portalServices(): Promise<Services> {
  const runtime = await getRuntime();
  return { ...runtime.services, repositories };
}
