import { roles } from "@tidemark/db/schema";
import { z } from "zod";

export const role = z.enum(roles, { error: `Role must be one of: ${roles.join(", ")}` });
