/**
 * Errors from tRPC and better-auth arrive in different shapes; pages only
 * want "a message" and "per-field messages".
 */
type TrpcLike = { message?: string; data?: { code?: string; zodError?: { fieldErrors?: Record<string, string[] | undefined>; formErrors?: string[] } | null } | null };

export function fieldErrors(error: unknown): Record<string, string> {
  const zod = (error as TrpcLike | null)?.data?.zodError;
  const out: Record<string, string> = {};
  for (const [field, messages] of Object.entries(zod?.fieldErrors ?? {})) {
    if (messages?.[0]) out[field] = messages[0];
  }
  return out;
}

export function errorMessage(error: unknown): string | null {
  if (!error) return null;
  const e = error as TrpcLike & { error?: { message?: string; code?: string }; statusText?: string };
  const zod = e.data?.zodError;
  if (zod) {
    const form = zod.formErrors?.[0];
    if (form) return form;
    return Object.keys(zod.fieldErrors ?? {}).length > 0 ? "Please correct the highlighted fields." : "Invalid input.";
  }
  if (e.error?.message) return e.error.message;
  if (typeof e.message === "string" && e.message) return e.message;
  return "Something went wrong.";
}
