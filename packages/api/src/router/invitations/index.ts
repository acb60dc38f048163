import { router } from "../../trpc";
import { accept } from "./accept";
import { create } from "./create";
import { list } from "./list";
import { lookup } from "./lookup";
import { revoke } from "./revoke";

export const invitationsRouter = router({ create, list, revoke, lookup, accept });
