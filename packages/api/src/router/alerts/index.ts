import { router } from "../../trpc";

/** Alert centre and alert channels (issue 5): procedures are added one file each. */
export const alertsRouter = router({});
