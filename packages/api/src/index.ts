export { appRouter, type AppRouter } from "./router";
export { createTRPCContext, clientIp, type Context, type Services, type Session, type SessionUser } from "./context";
export { createCallerFactory, publicProcedure, authedProcedure } from "./trpc";
export { mspProcedure, customerProcedure, MFA_REQUIRED_MESSAGE, type Tenant } from "./tenant";
export { transact, auditWith, type Audit, type Actor } from "./audit";
/** For the agent API (next issue): trades a single-use enrollment token for a machine credential. */
export { enrollMachine, installCommand } from "./domain/enrollment";
export { hashToken, newToken } from "./tokens";
