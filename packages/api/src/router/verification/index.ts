import { router } from "../../trpc";
import { customerSummary } from "./customerSummary";
import { damage } from "./damage";
import { damagedPoints } from "./damagedPoints";
import { repositoryChecks } from "./repositoryChecks";
import { restoreTests } from "./restoreTests";
import { runRestoreTest } from "./runRestoreTest";
import { summary } from "./summary";
import { verifyNow } from "./verifyNow";

/** Scrub, restore tests, repository checks and point damage (issue 5): one file per procedure. */
export const verificationRouter = router({ verifyNow, runRestoreTest, restoreTests, repositoryChecks, damage, damagedPoints, summary, customerSummary });
