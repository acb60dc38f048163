import { router } from "../../trpc";
import { get } from "./get";
import { update } from "./update";

export const mspRouter = router({ get, update });
