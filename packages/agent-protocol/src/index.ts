export * from "./schemas";
export * from "./errors";
export { createAgentClient, type AgentClient, type AgentClientOptions } from "./client";
