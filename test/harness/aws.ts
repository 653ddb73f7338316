import { randomBytes } from "node:crypto";
import { EC2Client } from "@aws-sdk/client-ec2";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

// explicit values keep the SDK from reading the developer's real profile, region or IMDS
const region = "us-east-1";
const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

/** An S3 client for the moto server at `endpoint`. */
export function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region,
    credentials,
    // moto serves buckets under the path; virtual-host style would need DNS for <bucket>.127.0.0.1
    forcePathStyle: true,
  });
}

/** An EC2 client for the moto server at `endpoint`. */
export function ec2Client(endpoint: string): EC2Client {
  return new EC2Client({ endpoint, region, credentials });
}

/** Creates a bucket named `<prefix>-<random>` and returns the name; tests never share buckets. */
export async function createBucket(s3: S3Client, prefix: string): Promise<string> {
  const cleaned = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  const bucket = `${cleaned || "test"}-${randomBytes(6).toString("hex")}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}
