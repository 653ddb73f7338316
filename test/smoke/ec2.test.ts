import { randomUUID } from "node:crypto";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { EC2Client, Instance } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ec2Client } from "../harness/aws.ts";
import { services } from "../harness/context.ts";

// one of the AMIs moto ships by default (Ubuntu 14.04 HVM); moto's RunInstances accepts
// any image id, so the test checks DescribeImages knows it to keep the fixture honest
const imageId = "ami-1e749f67";

describe("moto EC2", () => {
  let ec2: EC2Client;
  // a tag only this test run uses, so parallel tests never see each other's instances
  const runTag = { Key: "devenv:test-run", Value: randomUUID() };

  beforeAll(() => {
    ec2 = ec2Client(services().moto.endpoint);
  });

  afterAll(() => {
    ec2.destroy();
  });

  async function taggedInstances(): Promise<Instance[]> {
    const described = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: `tag:${runTag.Key}`, Values: [runTag.Value] }] }),
    );
    return (described.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
  }

  it("knows the AMI the test launches", async () => {
    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    expect(images.Images?.map((image) => image.ImageId)).toEqual([imageId]);
  });

  it("runs a tagged spot instance, finds it by tag and terminates it", async () => {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: "m5.large",
        MinCount: 1,
        MaxCount: 1,
        InstanceMarketOptions: {
          MarketType: "spot",
          SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate", MaxPrice: "0.20" },
        },
        TagSpecifications: [
          { ResourceType: "instance", Tags: [runTag, { Key: "Name", Value: "devenv-smoke" }] },
        ],
      }),
    );
    const instanceId = run.Instances?.[0]?.InstanceId;
    if (!instanceId) throw new Error("RunInstances returned no instance id");
    expect(run.Instances?.[0]?.InstanceLifecycle).toBe("spot");

    const found = await taggedInstances();
    expect(found.map((instance) => instance.InstanceId)).toEqual([instanceId]);
    expect(found[0]?.InstanceType).toBe("m5.large");
    expect(found[0]?.InstanceLifecycle).toBe("spot");
    expect(found[0]?.Tags).toEqual(expect.arrayContaining([runTag, { Key: "Name", Value: "devenv-smoke" }]));
    expect(["pending", "running"]).toContain(found[0]?.State?.Name);

    const terminated = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(terminated.TerminatingInstances?.[0]?.InstanceId).toBe(instanceId);

    const after = await taggedInstances();
    expect(after.map((instance) => instance.InstanceId)).toEqual([instanceId]);
    expect(["shutting-down", "terminated"]).toContain(after[0]?.State?.Name);
  });
});
