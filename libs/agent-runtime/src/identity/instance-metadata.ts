import { MetadataService } from "@aws-sdk/ec2-metadata-service";

/** The default IMDS endpoint of every EC2 instance. */
export const defaultMetadataEndpoint = "http://169.254.169.254";

/**
 * IMDSv2 (a session token first, then GETs carrying it) through the AWS SDK's metadata
 * client; the endpoint is configurable so tests and non-default networks can point it
 * elsewhere. IMDSv1 is never used.
 */
export class InstanceMetadata {
  readonly endpoint: string;
  readonly #service: MetadataService;

  constructor(options: { endpoint?: string; timeoutMs?: number; retries?: number } = {}) {
    this.endpoint = options.endpoint ?? defaultMetadataEndpoint;
    this.#service = new MetadataService({
      endpoint: this.endpoint,
      ec2MetadataV1Disabled: true,
      httpOptions: { timeout: options.timeoutMs ?? 2_000 },
      retries: options.retries ?? 2,
      backoff: 0.2,
    });
  }

  /** The body at `path`; undefined when the service answers 404 (e.g. no spot notice yet). */
  async get(path: string): Promise<string | undefined> {
    try {
      return await this.#service.request(path, {});
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw new Error(`instance metadata ${this.endpoint}${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  async getRequired(path: string): Promise<string> {
    const body = await this.get(path);
    if (body === undefined) throw new Error(`instance metadata ${this.endpoint}${path}: not found (404)`);
    return body;
  }
}
