/**
 * One entry point for both runtimes: real PostgreSQL (DATABASE_URL) or embedded
 * PGlite. Both get the same committed migrations before anything else runs.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { dataDir, env } from "@tidemark/config";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Domain functions take either, so callers decide the transaction boundary. */
export type DbOrTx = Db | Tx;

export type Database = {
  db: Db;
  kind: "postgres" | "pglite";
  /** Raw SQL for adapters such as pg-boss; multi-statement text is allowed when there are no params. */
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
  close(): Promise<void>;
};

export type OpenDatabaseOptions = {
  url?: string;
  pgliteDir?: string;
  /** Bundlers may move this file away from packages/db/drizzle; pass the folder explicitly then. */
  migrationsFolder?: string;
};

export function defaultMigrationsFolder(): string {
  const candidates = [
    resolve(dirname(fileURLToPath(import.meta.url)), "../drizzle"),
    resolve(process.cwd(), "packages/db/drizzle"),
    resolve(process.cwd(), "../../packages/db/drizzle"),
  ];
  const found = candidates.find((c) => existsSync(join(c, "meta/_journal.json")));
  if (!found) throw new Error(`Database migrations not found (looked in ${candidates.join(", ")})`);
  return found;
}

/** Any constant works; it only has to be the same in every instance of the app. */
const MIGRATION_LOCK_KEY = 7_314_250_001;

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  const migrationsFolder = opts.migrationsFolder ?? defaultMigrationsFolder();
  const url = opts.url ?? (opts.pgliteDir ? undefined : env().DATABASE_URL);
  return url ? openPostgres(url, migrationsFolder) : openPglite(opts.pgliteDir ?? join(dataDir(), "pglite"), migrationsFolder);
}

async function openPostgres(url: string, migrationsFolder: string): Promise<Database> {
  // Migrate on a dedicated connection holding an advisory lock so several
  // instances starting together apply each migration exactly once.
  const migrator = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres(migrator), { migrationsFolder });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await migrator.end();
  }
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  const db = drizzlePostgres(sql, { schema }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    async query(text, params) {
      if (params && params.length > 0) return { rows: [...(await sql.unsafe(text, params as never[]))] };
      const result: unknown = await sql.unsafe(text).simple();
      // Simple protocol returns one array per statement when there are several.
      const last = Array.isArray(result) && Array.isArray(result[result.length - 1]) ? result[result.length - 1] : result;
      return { rows: [...((last as unknown[]) ?? [])] };
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

async function openPglite(dir: string, migrationsFolder: string): Promise<Database> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pg = new PGlite(dir);
  await pg.waitReady;
  const db = drizzlePglite(pg, { schema });
  await migratePglite(db, { migrationsFolder });
  return {
    db: db as unknown as Db,
    kind: "pglite",
    async query(text, params) {
      if (params && params.length > 0) return { rows: (await pg.query(text, params)).rows };
      const results = await pg.exec(text);
      return { rows: results[results.length - 1]?.rows ?? [] };
    },
    close: () => pg.close(),
  };
}
