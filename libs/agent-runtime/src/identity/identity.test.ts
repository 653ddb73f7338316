import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpotWatcher } from "../host/spot-watcher.ts";
import { startMetadataTestServer } from "../testing/metadata-test-server.ts";
import type { MetadataTestServer } from "../testing/metadata-test-server.ts";
import { waitFor } from "../testing/wait-for.ts";
import { CredentialFile } from "./credential-file.ts";
import { resolveIdentity } from "./identity.ts";
import { InstanceMetadata } from "./instance-metadata.ts";

describe("identity from instance metadata (IMDSv2)", () => {
  let imds: MetadataTestServer;
  beforeAll(async () => {
    imds = await startMetadataTestServer({ instanceId: "i-0abc123", instanceType: "m7g.large", region: "eu-west-1", zone: "eu-west-1b", lifecycle: "spot" });
  });
  afterAll(async () => imds?.close());

  it("reads id, type, region, zone and spot life cycle with a session token", async () => {
    imds.requests.length = 0;
    const identity = await resolveIdentity({ provider: "ec2", metadata: new InstanceMetadata({ endpoint: imds.url }), hostname: "host-1" });
    expect(identity).toEqual({ provider: "ec2", hostname: "host-1", instanceId: "i-0abc123", instanceType: "m7g.large", region: "eu-west-1", zone: "eu-west-1b", lifecycle: "spot" });
    // IMDSv2: a token PUT precedes the GETs (which the server refuses without one)
    expect(imds.requests[0]).toBe("PUT /latest/api/token");
    expect(imds.requests).toContain("GET /latest/dynamic/instance-identity/document");
  });

  it("says clearly when the endpoint is not a metadata service", async () => {
    const metadata = new InstanceMetadata({ endpoint: "http://127.0.0.1:1", retries: 0, timeoutMs: 500 });
    await expect(resolveIdentity({ provider: "ec2", metadata })).rejects.toThrow(/instance metadata http:\/\/127\.0\.0\.1:1\/latest\/dynamic\/instance-identity\/document/);
  });

  it("takes the identity from config on other hosts", async () => {
    const identity = await resolveIdentity({ provider: "static", instanceId: "rack-7", hostname: "shared-1" });
    expect(identity).toEqual({ provider: "static", hostname: "shared-1", instanceId: "rack-7" });
  });

  it("polls the spot notice: nothing while 404, then the deadline once", async () => {
    const notices: unknown[] = [];
    const watcher = new SpotWatcher({ metadata: new InstanceMetadata({ endpoint: imds.url }), intervalMs: 50, onNotice: (n) => notices.push(n) });
    expect(await watcher.poll()).toBeUndefined();
    watcher.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(notices).toEqual([]);
    imds.documents.set("/meta-data/spot/instance-action", JSON.stringify({ action: "terminate", time: "2026-11-25T23:00:00Z" }));
    await waitFor("a spot notice", () => notices.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    watcher.stop();
    expect(notices).toEqual([{ action: "terminate", deadline: "2026-11-25T23:00:00.000Z" }]);
    imds.documents.delete("/meta-data/spot/instance-action");
  });
});

describe("credential file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "devenv-cred-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is absent before registration, then kept with mode 0600", async () => {
    const file = new CredentialFile(join(dir, "state"));
    expect(await file.read()).toBeUndefined();
    await file.write("ac_secret");
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(await new CredentialFile(join(dir, "state")).read()).toBe("ac_secret");
  });

  it("refuses a credential file others can read", async () => {
    const file = new CredentialFile(join(dir, "loose"));
    await file.write("ac_secret");
    chmodSync(file.path, 0o644);
    await expect(file.read()).rejects.toThrow(/readable by others \(mode 644\)/);
    writeFileSync(file.path, "x");
  });
});
