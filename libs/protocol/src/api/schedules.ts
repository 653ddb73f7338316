import { z } from "zod";
import { RefreshJobPayload, ShrinkJobPayload } from "../job-payloads.ts";
import { ScheduleView } from "./records.ts";
import { ConfiguredShrink } from "./snapshots.ts";

export const SchedulesListOutput = z.array(ScheduleView);

const ScheduleName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and -, at most 63");
/** Five or six fields; validated against the time zone by the server (cron-parser). */
const Cron = z.string().trim().min(9, "is too short for a cron expression").max(200);
const TimeZone = z.string().trim().min(1).max(64);

/** Creates or replaces the schedule of that name; the payload is the job's own. */
export const SchedulesSetInput = z.discriminatedUnion("kind", [
  z.strictObject({
    name: ScheduleName,
    cron: Cron,
    timezone: TimeZone,
    enabled: z.boolean().default(true),
    kind: z.literal("shrink"),
    // `configured`: a source of the server's config, resolved when the schedule is set
    payload: z.union([ShrinkJobPayload, z.strictObject({ configured: ConfiguredShrink })]),
  }),
  z.strictObject({
    name: ScheduleName,
    cron: Cron,
    timezone: TimeZone,
    enabled: z.boolean().default(true),
    kind: z.literal("refresh"),
    payload: z.union([RefreshJobPayload, RefreshJobPayload.extend({ shrink: z.strictObject({ configured: ConfiguredShrink }) })]),
  }),
]);
export const SchedulesSetOutput = ScheduleView;
