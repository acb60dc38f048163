import { createHash, randomBytes } from "node:crypto";

/** 32 random bytes, URL-safe: the secret shown once to the person who asked for it. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Tokens have 256 bits of entropy, so an unsalted SHA-256 is enough to make a leaked table useless. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export type TokenState = "active" | "used" | "expired" | "revoked";

/** Single-use tokens (enrolment, invitations): what a row's timestamps say about it now. */
export function tokenState(t: { usedAt: Date | null; revokedAt: Date | null; expiresAt: Date }, now = new Date()): TokenState {
  if (t.usedAt) return "used";
  if (t.revokedAt) return "revoked";
  return t.expiresAt <= now ? "expired" : "active";
}
