import type { Migration, MigrationProvider } from "kysely/migration";
import type { StoreDialect } from "../store.ts";
import { initialSchema } from "./0001-initial-schema.ts";

/**
 * Every migration, in order, as code (no migration folder to ship). Names sort in
 * execution order; never edit one that was released, add the next instead.
 */
export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  const migrations: Record<string, Migration> = {
    "0001-initial-schema": initialSchema(dialect),
  };
  return { getMigrations: async () => migrations };
}
