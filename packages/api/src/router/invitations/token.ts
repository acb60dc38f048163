import { z } from "zod";

/** base64url of 32 bytes is 43 characters. */
export const invitationToken = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "This invitation link is malformed: copy the whole link from the email");
