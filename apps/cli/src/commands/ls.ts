import { Command } from "commander";
import { instanceStates } from "@devenv/protocol";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi } from "./api-client.ts";
import { formatTable, instanceHeader, instanceRow } from "./api-client-views.ts";

const lsExamples = `
Examples:
  $ devenv ls                       # your live instances
  $ devenv ls --all                 # everyone's (ops, admin), ended ones too
  $ devenv ls --json | jq -r '.[] | select(.state == "ready") | .id'`;

export function lsCommand(context: CommandContext): Command {
  return new Command("ls")
    .description("list instances: yours, or with --all every one you may see")
    .option("--all", "every owner's instances (ops and admin see the whole fleet), terminated ones included")
    .option("--json", "print the instances as JSON")
    .addHelpText("after", lsExamples)
    .action(async (flags: { all?: boolean; json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const { client } = session;
      const instances = flags.all
        ? await callApi(session, () => client.instances.list.query({ states: [...instanceStates], limit: 1000 }))
        : await callApi(session, async () => client.instances.list.query({ ownerId: (await client.auth.whoami.query()).user.id, limit: 1000 }));
      output.result(instances);
      if (instances.length === 0) {
        output.line(flags.all ? "no instances" : "you have no instances: `devenv up` starts one");
        return;
      }
      const now = Date.now();
      const header = flags.all ? ["OWNER", ...instanceHeader] : [...instanceHeader];
      const rows = instances.map((i) => (flags.all ? [i.ownerId, ...instanceRow(i, now)] : instanceRow(i, now)));
      for (const line of formatTable(header, rows)) output.line(line);
    });
}
