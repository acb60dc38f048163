/**
 * Isolation cases for the verification router: one per procedure (the suite fails on a
 * procedure without one). seed() creates A1's verification objects the cases attack.
 */
import type { Stack } from "../fixtures";
import type { Case, Ctx } from "./types";

export async function seed(_stack: Stack, _w: Ctx): Promise<Record<string, string>> {
  return {};
}

export const cases: Record<string, Case> = {};
