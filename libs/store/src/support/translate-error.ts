import { errorMessage } from "@devenv/core";
import { StoreError } from "../errors.ts";

/** SQLSTATE codes (PostgreSQL) and result codes (SQLite) mapped onto the store's codes. */
const postgresCodes: Record<string, StoreError["code"]> = {
  "23505": "conflict", // unique_violation
  "23503": "not-found", // foreign_key_violation: the referenced row does not exist
  "23502": "invalid-input", // not_null_violation
  "23514": "invalid-input", // check_violation
  "22P02": "invalid-input", // invalid_text_representation
  "22003": "invalid-input", // numeric_value_out_of_range
  "40001": "conflict", // serialization_failure: retry
  "40P01": "conflict", // deadlock_detected: retry
  "53300": "unavailable", // too_many_connections
  "57P01": "unavailable", // admin_shutdown
  "57P03": "unavailable", // cannot_connect_now
  "3D000": "unavailable", // invalid_catalog_name: the database does not exist
  "28P01": "unavailable", // invalid_password
  "28000": "unavailable", // invalid_authorization_specification
};
const sqliteCodes: Record<string, StoreError["code"]> = {
  SQLITE_CONSTRAINT_UNIQUE: "conflict",
  SQLITE_CONSTRAINT_PRIMARYKEY: "conflict",
  SQLITE_CONSTRAINT_FOREIGNKEY: "not-found",
  SQLITE_CONSTRAINT_NOTNULL: "invalid-input",
  SQLITE_CONSTRAINT_CHECK: "invalid-input",
  SQLITE_BUSY: "unavailable",
  SQLITE_LOCKED: "unavailable",
  SQLITE_CANTOPEN: "unavailable",
  SQLITE_READONLY: "unavailable",
  SQLITE_FULL: "unavailable",
};
const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"]);
const explanations: Partial<Record<StoreError["code"], string>> = {
  conflict: "a row with the same unique value exists, or a concurrent change won",
  "not-found": "a row it refers to does not exist",
  "invalid-input": "a value the database refused",
  unavailable: "the database cannot be reached or is locked; retry later",
};

const unavailableMessages =
  /connection terminated|timeout exceeded when trying to connect|pool .*ended|database connection is not open|driver has already been destroyed/i;

/** Turns anything a query threw into a StoreError, keeping the original as `cause`. */
export function translateError(error: unknown, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  const message = errorMessage(error);
  const code = classify(errorCode(error), message);
  const why = explanations[code];
  return new StoreError(code, `${operation} failed: ${why ? `${why} (${message})` : message}`, { cause: error });
}

function classify(code: string | undefined, message: string): StoreError["code"] {
  if (code !== undefined) {
    const known = postgresCodes[code] ?? sqliteCodes[code] ?? (networkCodes.has(code) ? "unavailable" : undefined);
    if (known) return known;
  }
  return unavailableMessages.test(message) ? "unavailable" : "internal";
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}
