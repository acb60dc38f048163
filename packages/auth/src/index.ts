export { createAuth, AUTH_ISSUER, type Auth, type CreateAuthOptions } from "./auth";
export { can, canGrant, permissions, rolePermissions, type Permission, type Role } from "./permissions";
