import { AlertError } from "@tidemark/alerts";
import { TRPCError } from "@trpc/server";
import { ZodRealError } from "zod";

/** Domain errors of @tidemark/alerts become tRPC errors with the same message. */
export async function alertsCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AlertError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
    throw e;
  }
}

/** A check that needs the stored row (e.g. targets vs the channel's kind) reported like input validation: per field. ZodRealError, because TRPCError keeps only Error causes and the plain ZodError of zod 4 is not one. */
export function fieldError(field: string, message: string): TRPCError {
  return new TRPCError({ code: "BAD_REQUEST", message, cause: new ZodRealError([{ code: "custom", path: [field], message, input: undefined }]) });
}
