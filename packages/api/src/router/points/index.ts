import { router } from "../../trpc";
import { get } from "./get";
import { list } from "./list";

export const pointsRouter = router({ list, get });
