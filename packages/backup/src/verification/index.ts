export { type AlertSink, type RaisedAlert, type VerificationCondition, noAlerts } from "./alerts";
export { openCustomerRepo, type CustomerRepo, type VerificationServices } from "./context";
export { recordDamage, affectedPoints, damageNewPoints, openBadChunks, MAX_FILES_PER_POINT, type BadChunk, type AffectedPoint, type DamageReport } from "./damage";
export { scrubCustomer, scrubBudget, scrubCoverage, customerScrubPeriodDays, customerPackBytes, DAY_MS, type ScrubOptions, type ScrubResult, type ScrubCoverage } from "./scrub";
export { healChunks, reevaluateDamagedPoints, type HealResult } from "./heal";
export { runRestoreTest, detectFilesystem, checkFilesystem, type RestoreTestOptions, type RestoreTestRecord, type FsCheck } from "./restore-test";
export { runRepositoryCheck, type RepositoryCheckRecord } from "./repo-check";
export {
  requestVerification,
  claimVerificationRequest,
  finishVerificationRequest,
  getVerificationRequest,
  listRestoreTests,
  listRepositoryChecks,
  pointDamage,
  machineVerificationSummary,
  damagedPoints,
  customerVerificationSummary,
  type CustomerVerificationSummary,
  type VerificationRequest,
  type VerificationRequestKind,
  type PointDamageView,
  type MachineVerificationSummary,
} from "./queries";
export { customersWithRepository, machinesDueForRestoreTest, customersDueForRepositoryCheck } from "./due";
