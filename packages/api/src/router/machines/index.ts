import { router } from "../../trpc";
import { events } from "./events";
import { get } from "./get";
import { list } from "./list";
import { protection } from "./protection";
import { revoke } from "./revoke";

export const machinesRouter = router({ list, get, protection, revoke, events });
