export { accountLockedError, createAuth, AUTH_ISSUER, type Auth, type CreateAuthOptions } from "./auth";
export { accountLockout, defaultLockout, lockSeconds, type LockoutPolicy, type LockState } from "./account-lockout";
export { clientAddress, installClientAddress, parseTrustedProxies, resolveClientAddress, resolvedHeaders, type TrustedProxies } from "./client-address";
export { auditSignIn, signInActions, type FailureReason, type SignInEvent } from "./sign-in-audit";
export { can, canGrant, permissions, rolePermissions, type Permission, type Role } from "./permissions";
