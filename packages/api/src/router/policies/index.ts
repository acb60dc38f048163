import { router } from "../../trpc";
import { assign } from "./assign";
import { create } from "./create";
import { get } from "./get";
import { list } from "./list";
import { update } from "./update";

export const policiesRouter = router({ list, get, create, update, assign });
