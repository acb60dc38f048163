import { router } from "../../trpc";
import { acknowledge } from "./acknowledge";
import { channelCreate } from "./channel-create";
import { channelDelete } from "./channel-delete";
import { channelUpdate } from "./channel-update";
import { channelsList } from "./channels-list";
import { counts } from "./counts";
import { deliveries } from "./deliveries";
import { get } from "./get";
import { list } from "./list";
import { resolve } from "./resolve";
import { sendTest } from "./send-test";

/**
 * Alert centre and alert channels (issue 5). Flat procedure names: the
 * isolation and role suites address procedures as "<router>.<name>".
 * Shapes: docs/handoff-alerts.md.
 */
export const alertsRouter = router({ list, counts, get, acknowledge, resolve, channelsList, channelCreate, channelUpdate, channelDelete, sendTest, deliveries });
