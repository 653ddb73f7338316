import { Command } from "commander";
import { describeRoute, formatHostPort, forwardProcessStatus, routeView } from "@devenv/forward";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi } from "./api-client.ts";
import { formatTable, instanceHeader, instanceRow } from "./api-client-views.ts";

const statusExamples = `
Examples:
  $ devenv status
  $ devenv status --json | jq .forward.route`;

export function statusCommand(context: CommandContext): Command {
  return new Command("status")
    .description("who you are on the control plane, your instances, and where the local forward points")
    .option("--json", "print the result as JSON")
    .addHelpText("after", statusExamples)
    .action(async (flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const { client } = session;
      const who = await callApi(session, () => client.auth.whoami.query());
      const instances = await callApi(session, () => client.instances.list.query({ ownerId: who.user.id }));
      const forward = await forwardProcessStatus(context.config().stateDir);
      const forwardView = forward.running
        ? { state: "running" as const, listen: forward.status.listen, route: forward.status.route, active: forward.status.active }
        : { state: "stopped" as const, listen: forward.saved?.listen ?? null, route: forward.saved?.route ? routeView(forward.saved.route) : null, active: 0 };
      output.result({ server: session.server, user: who.user, instances, forward: forwardView });

      output.line(`control plane: ${session.server} as ${who.user.name} (${who.user.role})`);
      const where = forwardView.listen ? formatHostPort(forwardView.listen.host, forwardView.listen.port) : "not started";
      const route = forwardView.route ? describeRoute(forwardView.route) : "no route";
      const target = forwardView.route?.kind === "tunnel" ? /\/tunnel\/([^/?]+)$/.exec(forwardView.route.url)?.[1] : undefined;
      const named = target ? ` (${decodeURIComponent(target)})` : "";
      output.line(
        forward.running
          ? `forward:       ${where} → ${route}${named}, ${forwardView.active} open connections`
          : `forward:       not running${forwardView.route ? ` (last route ${route}${named}; \`devenv forward start\` brings it back)` : ""}`,
      );
      output.line("");
      if (instances.length === 0) {
        output.line("no instances: `devenv up` starts one");
        return;
      }
      const now = Date.now();
      for (const line of formatTable(instanceHeader, instances.map((i) => instanceRow(i, now)))) output.line(line);
    });
}
