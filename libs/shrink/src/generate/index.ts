export {
  generateDataset,
  generateDefaults,
  type GenerateOptions,
  type GenerateProgress,
  type GenerateResult,
  type GeneratedOrg,
} from "./generate-dataset.ts";
export { leadsSchemaCql, leadsTables, leadsWriteCql, type LeadsTable } from "./leads-schema.ts";
export { orgKinds, type OrgKind } from "./rows.ts";
