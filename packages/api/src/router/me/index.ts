import { router } from "../../trpc";
import { get } from "./get";

export const meRouter = router({ get });
