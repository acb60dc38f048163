export * from "./auth";
export * from "./tenants";
export * from "./members";
export * from "./machines";
export * from "./policies";
export * from "./audit";
export * from "./outbox";
export * from "./backup";
