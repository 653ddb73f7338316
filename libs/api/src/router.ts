import { authRouter } from "./routers/auth.ts";
import { fleetRouter } from "./routers/fleet.ts";
import { instancesRouter } from "./routers/instances.ts";
import { jobsRouter } from "./routers/jobs.ts";
import { schedulesRouter } from "./routers/schedules.ts";
import { snapshotsRouter } from "./routers/snapshots.ts";
import { router } from "./trpc.ts";

/** The people's API: one router per domain. The CLI imports `AppRouter` as a type only. */
export const appRouter = router({
  auth: authRouter,
  snapshots: snapshotsRouter,
  instances: instancesRouter,
  fleet: fleetRouter,
  jobs: jobsRouter,
  schedules: schedulesRouter,
});

export type AppRouter = typeof appRouter;
