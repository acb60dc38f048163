/** better-auth answers `{ error: { code, message } }`; map codes onto the form field they concern. */
export type AuthError = { code?: string; message?: string; status?: number } | null | undefined;

export function authFieldErrors(error: AuthError): Record<string, string> {
  if (!error || error.status === 429) return {};
  const code = error.code ?? "";
  const message = error.message ?? "Request failed";
  // Deliberately vague (no account enumeration): it belongs to the form, not to one field.
  if (code === "INVALID_EMAIL_OR_PASSWORD") return {};
  if (code.includes("PASSWORD")) return { password: message };
  if (code.includes("EMAIL") || code.includes("USER_ALREADY_EXISTS")) return { email: message };
  return {};
}

/** The form-level message, or null when the error is already shown beside a field. */
export function authMessage(error: AuthError): string | null {
  if (!error) return null;
  if (error.status === 429) return "Too many attempts. Wait a minute and try again.";
  if (Object.keys(authFieldErrors(error)).length > 0) return null;
  return error.message || "Request failed";
}

/** Only same-site paths are followed after sign-in (no open redirect). */
export function safeNext(next: string | undefined | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
