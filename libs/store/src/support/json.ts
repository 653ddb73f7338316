import type { JsonObject, JsonValue } from "../model.ts";

export function toJson(value: JsonValue): string {
  return JSON.stringify(value);
}

export function fromJson(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

export function fromJsonOrNull(text: string | null): JsonValue | null {
  return text === null ? null : fromJson(text);
}

export function fromJsonObjectOrNull(text: string | null): JsonObject | null {
  return text === null ? null : (fromJson(text) as JsonObject);
}
