import { MFA_REQUIRED_MESSAGE } from "@tidemark/api";
import { TRPCError } from "@trpc/server";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";

/**
 * Runs a server-side procedure call for a page; a refusal renders a plain
 * "no access" panel instead of an error page, and never any of the data.
 */
export async function loadOrRefuse<T>(load: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; panel: ReactNode }> {
  try {
    return { ok: true, value: await load() };
  } catch (err) {
    // The MSP requires MFA and this user has none yet: the only useful page is the one that sets it up.
    if (err instanceof TRPCError && err.message === MFA_REQUIRED_MESSAGE) redirect("/settings/security?required=1");
    if (err instanceof TRPCError && ["FORBIDDEN", "NOT_FOUND", "UNAUTHORIZED", "BAD_REQUEST"].includes(err.code)) {
      return {
        ok: false,
        panel: (
          <div className="card" data-testid="access-refused">
            <h1>No access</h1>
            <p className="error-banner">{err.code === "NOT_FOUND" || err.code === "BAD_REQUEST" ? "This page does not exist or you do not have access to it." : "You do not have access to this page."}</p>
            <p className="muted">{err.message}</p>
            <a href="/">Back to your dashboard</a>
          </div>
        ),
      };
    }
    throw err;
  }
}
