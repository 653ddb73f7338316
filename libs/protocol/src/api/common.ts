import { z } from "zod";

/** Ids the catalogue hands out (UUIDs) or a snapshot brings along. */
export const ResourceId = z.string().trim().min(1, "is empty").max(200, "is longer than 200 characters");

/** How many items a list returns: 1..1000, default 100. */
export const Limit = z.number().int().min(1).max(1000).optional();

/** Procedures that take nothing accept an absent input only. */
export const NoInput = z.undefined();
