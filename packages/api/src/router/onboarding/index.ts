import { router } from "../../trpc";
import { createMsp } from "./createMsp";

export const onboardingRouter = router({ createMsp });
