import { router } from "../../trpc";
import { changes } from "./changes";
import { get } from "./get";
import { list } from "./list";

export const pointsRouter = router({ list, get, changes });
