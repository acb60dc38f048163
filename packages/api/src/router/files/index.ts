import { router } from "../../trpc";
import { list } from "./list";
import { search } from "./search";
import { versions } from "./versions";

export const filesRouter = router({ list, search, versions });
