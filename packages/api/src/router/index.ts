import { router } from "../trpc";
import { alertsRouter } from "./alerts";
import { auditRouter } from "./audit";
import { customersRouter } from "./customers";
import { enrollmentRouter } from "./enrollment";
import { filesRouter } from "./files";
import { invitationsRouter } from "./invitations";
import { machinesRouter } from "./machines";
import { meRouter } from "./me";
import { membersRouter } from "./members";
import { mspRouter } from "./msp";
import { onboardingRouter } from "./onboarding";
import { pointsRouter } from "./points";
import { policiesRouter } from "./policies";
import { restoresRouter } from "./restores";
import { verificationRouter } from "./verification";

export const appRouter = router({
  me: meRouter,
  onboarding: onboardingRouter,
  msp: mspRouter,
  customers: customersRouter,
  machines: machinesRouter,
  enrollment: enrollmentRouter,
  members: membersRouter,
  invitations: invitationsRouter,
  policies: policiesRouter,
  audit: auditRouter,
  points: pointsRouter,
  files: filesRouter,
  restores: restoresRouter,
  alerts: alertsRouter,
  verification: verificationRouter,
});

export type AppRouter = typeof appRouter;
