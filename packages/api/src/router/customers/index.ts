import { router } from "../../trpc";
import { create } from "./create";
import { get } from "./get";
import { list } from "./list";
import { storage } from "./storage";
import { update } from "./update";

export const customersRouter = router({ list, create, get, update, storage });
