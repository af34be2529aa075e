/**
 * Publishing the static copy of the page to any S3-compatible bucket (AWS, R2, MinIO, …) on
 * every change, so a CDN in front of the bucket keeps the page up when Amends is down. Requests
 * are signed with AWS Signature V4 by aws4fetch (small, no dependencies, fetch + WebCrypto);
 * only files whose bytes changed since the last upload are sent again.
 */
import { createHash } from "node:crypto";
import { AwsClient } from "aws4fetch";
import { collectStatic, type RawGet } from "./static-copy.ts";

export interface S3Target {
  /** endpoint, bucket and optional key prefix, path-style: https://s3.eu-central-1.amazonaws.com/my-bucket/status */
  url: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** AMENDS_S3_URL (+ AMENDS_S3_REGION, default us-east-1) with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
export function s3TargetFromEnv(env: Record<string, string | undefined>): S3Target | undefined {
  if (!env.AMENDS_S3_URL) return undefined;
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY)
    throw new Error("AMENDS_S3_URL needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  return {
    url: env.AMENDS_S3_URL,
    region: env.AMENDS_S3_REGION ?? "us-east-1",
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    sessionToken: env.AWS_SESSION_TOKEN,
  };
}

/** Objects change with the page: caches in front of the bucket revalidate often. */
const CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400";

export class S3Publisher {
  private readonly client: AwsClient;
  private readonly uploaded = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly target: S3Target,
    private readonly raw: RawGet,
    private readonly onError: (err: Error) => void = () => {},
    private readonly debounceMs = 1_000,
  ) {
    this.client = new AwsClient({
      accessKeyId: target.accessKeyId,
      secretAccessKey: target.secretAccessKey,
      sessionToken: target.sessionToken,
      service: "s3",
      region: target.region,
      retries: 2,
    });
  }

  /** A change happened: publish soon, once for a burst of changes. */
  schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.publish()
        .catch((err: Error) => {
          // The bucket may be down too: try again, until it takes the copy.
          this.onError(err);
          this.again = true;
        })
        .finally(() => {
          this.running = undefined;
          if (this.again && !this.stopped) {
            this.again = false;
            this.schedule();
          }
        });
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Uploads every file whose bytes changed since the last upload. */
  async publish(): Promise<{ uploaded: number; unchanged: number }> {
    const base = this.target.url.replace(/\/$/, "");
    let uploaded = 0;
    let unchanged = 0;
    for (const file of await collectStatic(this.raw)) {
      const hash = createHash("sha256").update(file.body).digest("hex");
      if (this.uploaded.get(file.key) === hash) {
        unchanged++;
        continue;
      }
      const res = await this.client.fetch(
        `${base}/${file.key.split("/").map(encodeURIComponent).join("/")}`,
        {
          method: "PUT",
          body: file.body,
          headers: {
            "content-type": file.type || "application/octet-stream",
            "cache-control": CACHE_CONTROL,
            "x-amz-content-sha256": hash,
          },
        },
      );
      if (!res.ok)
        throw new Error(`S3 PUT ${file.key} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      this.uploaded.set(file.key, hash);
      uploaded++;
    }
    return { uploaded, unchanged };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
