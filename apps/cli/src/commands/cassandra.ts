import { Command } from "commander";
import type { CommandContext } from "../program.ts";

// Placeholder wiring: replaced by the real start/stop/status commands.
export function cassandraCommand(_context: CommandContext): Command {
  return new Command("cassandra").description("run a local Apache Cassandra node");
}
