import { router } from "../../trpc";
import { cancel } from "./cancel";
import { create } from "./create";
import { list } from "./list";

export const restoresRouter = router({ create, list, cancel });
