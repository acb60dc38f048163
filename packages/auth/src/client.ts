/** Browser-side auth client for the portal. */
import { twoFactorClient } from "better-auth/client/plugins";
import { createAuthClient } from "better-auth/react";

export function createTidemarkAuthClient(opts: { baseURL?: string; onTwoFactorRedirect?: () => void | Promise<void> } = {}) {
  return createAuthClient({
    baseURL: opts.baseURL,
    plugins: [twoFactorClient({ onTwoFactorRedirect: opts.onTwoFactorRedirect })],
  });
}

export type AuthClient = ReturnType<typeof createTidemarkAuthClient>;
export { createAuthClient, twoFactorClient };
