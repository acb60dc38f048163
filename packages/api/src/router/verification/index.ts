import { router } from "../../trpc";

/** Scrub, restore tests, repository checks and point damage (issue 5): one file per procedure. */
export const verificationRouter = router({});
