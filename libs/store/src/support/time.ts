import { StoreError } from "../errors.ts";
import type { IsoTime, TimeInput } from "../model.ts";

/** The one text form of a time in the database: ISO 8601 UTC with milliseconds. */
export function toIso(input: TimeInput, field: string): IsoTime {
  const date = input instanceof Date ? input : new Date(input);
  if (Number.isNaN(date.getTime())) {
    throw new StoreError("invalid-input", `${field}: ${JSON.stringify(String(input))} is not a time (use an ISO 8601 string or a Date)`);
  }
  return date.toISOString();
}

export function toIsoOrNull(input: TimeInput | null | undefined, field: string): IsoTime | null {
  return input === null || input === undefined ? null : toIso(input, field);
}

export function addMs(time: Date, ms: number): IsoTime {
  return new Date(time.getTime() + ms).toISOString();
}
