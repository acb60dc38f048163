export { openDatabase, defaultMigrationsFolder, type Database, type Db, type Tx, type DbOrTx, type Schema, type OpenDatabaseOptions } from "./client";
export { scopeTo, scopeToCustomer, scopeToMsp, type TenantScope } from "./tenancy";
export * as schema from "./schema";
export { auditWith, clientIp, type Audit, type AuditEntry, type Actor } from "./audit";
export { hashToken, newToken, tokenState, type TokenState } from "./tokens";
export { enrollMachine, EnrollmentRefused } from "./enrollment";
