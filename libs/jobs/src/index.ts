export * from "./job-runner.ts";
export * from "./shrink-job.ts";
export * from "./refresh-job.ts";
export * from "./scheduler.ts";
