/**
 * pg-boss talks to the database through `executeSql`, so the same queue runs on
 * real PostgreSQL and on embedded PGlite without a second connection pool.
 */
export type QueryableDatabase = {
  kind: "postgres" | "pglite";
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
  /** Drizzle instance; its `$client` is the PGlite handle or the postgres-js pool. */
  db?: unknown;
};

type PGliteLike = { exec(text: string): Promise<Array<{ rows: any[] }>> };
type ReservedSql = { unsafe(text: string): Promise<unknown>; release(): void };
type PostgresJsLike = { reserve(): Promise<ReservedSql> };

function client(database: QueryableDatabase): Record<string, unknown> | undefined {
  return (database.db as { $client?: Record<string, unknown> } | undefined)?.$client;
}

/** Rows of the last statement of a (possibly multi-statement) postgres-js result. */
function lastRows(result: unknown): any[] {
  if (Array.isArray(result) && result.length > 0 && result.every(Array.isArray)) return lastRows(result.at(-1));
  return Array.isArray(result) ? [...result] : [];
}

/**
 * pg-boss is written for node-postgres, which sends undefined as NULL and plain
 * objects as JSON. postgres-js refuses undefined, and drizzle switches its JSON
 * serializer off, so both are normalised here.
 */
function asNodePostgresWould(value: unknown): unknown {
  if (value === undefined) return null;
  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    return JSON.stringify(value);
  }
  return value;
}

/**
 * pg-boss sends schema installs and its locked maintenance as ONE parameterless
 * string with several statements, including BEGIN/COMMIT. PGlite's `query`
 * (extended protocol) rejects several statements, and postgres-js refuses BEGIN
 * on a pooled connection; so such text goes to PGlite's `exec` or to a reserved
 * postgres-js connection, and everything else through `database.query`.
 */
export function bossDb(database: QueryableDatabase) {
  const raw = client(database);
  const pglite = database.kind === "pglite" && typeof raw?.exec === "function" ? (raw as unknown as PGliteLike) : undefined;
  const pgjs = database.kind === "postgres" && typeof raw?.reserve === "function" ? (raw as unknown as PostgresJsLike) : undefined;
  return {
    async executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }> {
      if (!values || values.length === 0) {
        if (pglite) {
          const results = await pglite.exec(text);
          return { rows: results.at(-1)?.rows ?? [] };
        }
        if (pgjs) {
          const conn = await pgjs.reserve();
          try {
            return { rows: lastRows(await conn.unsafe(text)) };
          } finally {
            conn.release();
          }
        }
      }
      return database.query(text, (values ?? []).map(asNodePostgresWould));
    },
  };
}
