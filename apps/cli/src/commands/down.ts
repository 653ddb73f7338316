import { Command } from "commander";
import { forwardProcessStatus } from "@devenv/forward";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi, tunnelUrl, type ApiSession } from "./api-client.ts";

const downExamples = `
Without an id, ends your only live personal instance (name one when you have several).
The host is drained and terminated; its data is gone.

Examples:
  $ devenv down
  $ devenv down 3f0c9a52-…
  $ devenv down --json | jq .state`;

export function downCommand(context: CommandContext): Command {
  return new Command("down")
    .description("end an instance (default: your personal one)")
    .argument("[instance]", "the instance id (see `devenv ls`)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", downExamples)
    .action(async (id: string | undefined, flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const target = id ?? (await onlyPersonalInstance(session));
      const ended = await callApi(session, () => session.client.instances.down.mutate({ id: target }));
      output.result(ended);
      output.line(`instance ${ended.id} is ${ended.state}; it is terminated in the background`);
      const forward = await forwardProcessStatus(context.config().stateDir);
      const route = forward.running ? forward.status.route : undefined;
      if (route?.kind === "tunnel" && route.url === tunnelUrl(session.server, ended.id)) {
        output.line("the forward still points at it: `devenv use mine` or `devenv use shared` moves it");
      }
    });
}

async function onlyPersonalInstance(session: ApiSession): Promise<string> {
  const who = await callApi(session, () => session.client.auth.whoami.query());
  const live = await callApi(session, () =>
    session.client.instances.list.query({ ownerId: who.user.id, kind: "personal", states: ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "failed"] }),
  );
  if (live.length === 0) throw new CliError("not-found", "you have no personal instance to end (`devenv ls` lists yours)");
  if (live.length > 1) throw new CliError("usage", `you have ${live.length} personal instances (${live.map((i) => i.id).join(", ")}): name the one to end`);
  return live[0]!.id;
}
