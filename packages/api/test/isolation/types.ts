import type { Person, World } from "../fixtures";

/** The seeded world every isolation case attacks; `seeded[domain]` holds ids a domain's seed() created for A1. */
export type Ctx = World & { inviteToken: string; policyB: { id: string }; seeded: Record<string, Record<string, string>> };

export type Case =
  | { inputs: (w: Ctx, attacker: Person) => unknown[] }
  | { public: string }
  /** Authenticated but not tenant-addressed: a custom check that the attacker gets nothing of A1. */
  | { self: (w: Ctx, attacker: Person) => Promise<void> };
