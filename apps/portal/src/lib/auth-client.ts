"use client";
import { createTidemarkAuthClient } from "@tidemark/auth/client";

// Same origin as the portal, so no baseURL: cookies stay first-party.
export const authClient = createTidemarkAuthClient();
