import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readAgentUserDataTemplate, renderAgentUserData, type AgentUserDataValues } from "./user-data.ts";

const values: AgentUserDataValues = {
  control_plane_url: "wss://devenv.example.com/agent",
  join_token: "jt_4f9a.b-c_d",
  agent_tarball_url: "https://releases.example.com/devenv-agent-1.0.0.tgz?X-Amz-Signature=abc&X-Amz-Expires=900",
  cassandra_data_dir: "/var/lib/cassandra",
};

interface CloudConfig {
  write_files: { path: string; content: string }[];
  runcmd: (string | string[])[];
}

describe("agent user data", () => {
  it("fills the repository's cloud-init template into a cloud-config the agent can read", async () => {
    const rendered = renderAgentUserData(await readAgentUserDataTemplate(), values);
    expect(rendered.startsWith("#cloud-config\n")).toBe(true);
    const config = parse(rendered) as CloudConfig;
    const file = (path: string) => config.write_files.find((entry) => entry.path === path)?.content;
    expect(JSON.parse(file("/etc/devenv/agent.json") ?? "")).toMatchObject({
      controlPlaneUrl: values.control_plane_url,
      dataVolume: "/var/lib/cassandra",
      provider: "ec2",
    });
    expect(file("/etc/devenv/join-token")).toBe(values.join_token);
    expect(JSON.stringify(config.runcmd)).toContain(values.agent_tarball_url);
    expect(rendered).not.toMatch(/\n[^#\n]*\{\{/);
    // the token is written once, where the agent reads it (not into the template's comments)
    expect(rendered.split(values.join_token)).toHaveLength(2);
  });

  it("refuses values that would break out of their place, naming the field", async () => {
    const template = await readAgentUserDataTemplate();
    expect(() => renderAgentUserData(template, { ...values, join_token: 'x"\nruncmd: [reboot]' })).toThrow(/join_token may not contain/);
    expect(() => renderAgentUserData(template, { ...values, agent_tarball_url: "https://x/'; rm -rf /; '" })).toThrow(/agent_tarball_url may not contain/);
    expect(() => renderAgentUserData(template, { ...values, control_plane_url: "ftp://x" })).toThrow(/control_plane_url must be a ws/);
    expect(() => renderAgentUserData(template, { ...values, cassandra_data_dir: "data" })).toThrow(/cassandra_data_dir must be an absolute path/);
    expect(() => renderAgentUserData(template, { ...values, join_token: "" })).toThrow(/join_token is missing/);
  });

  it("refuses a template asking for a value devenv does not have, and one too large for EC2", () => {
    expect(() => renderAgentUserData("#cloud-config\nx: {{ssh_key}}\n", values)).toThrow(/does not have: ssh_key/);
    expect(() => renderAgentUserData(`#cloud-config\nx: "${"y".repeat(17_000)}"\n`, values)).toThrow(/EC2 accepts at most 16384/);
    expect(() => renderAgentUserData("#!/bin/sh\necho {{join_token}}\n", values)).toThrow(/must start with #cloud-config/);
  });
});
