export { appRouter, type AppRouter } from "./router";
export { createTRPCContext, type Context, type Services, type Session, type SessionUser } from "./context";
export { createCallerFactory, publicProcedure, authedProcedure } from "./trpc";
export { mspProcedure, customerProcedure, MFA_REQUIRED_MESSAGE, type Tenant } from "./tenant";
export { transact, type Audit, type Actor } from "./audit";
export { installCommand } from "./domain/enrollment";
/** Moved to @tidemark/db (so @tidemark/backup need not import the API); re-exported for existing callers. */
export { auditWith, clientIp, enrollMachine, hashToken, newToken } from "@tidemark/db";
export { handleDownload, downloadQuery } from "./downloads";
export type { RepositoryAccess } from "./context";
