/**
 * A small S3-compatible server on a free loopback port: path-style PutObject and GetObject
 * (PUT/GET /<bucket>/<key>), with the Authorization header checked by recomputing the AWS
 * Signature V4 with `aws4`, an implementation independent of the client's (aws4fetch), over
 * the headers the client says it signed. A bad signature is refused as S3 does (403
 * SignatureDoesNotMatch), and the body must match x-amz-content-sha256.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

type Aws4 = {
  sign(
    request: Record<string, unknown>,
    credentials: { accessKeyId: string; secretAccessKey: string },
  ): { headers: Record<string, string> };
};
const aws4 = createRequire(import.meta.url)("aws4") as Aws4;

export interface StoredObject {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

export class S3Fake {
  readonly objects = new Map<string, StoredObject>();
  puts = 0;
  /** PUTs per key, to tell what was uploaded again */
  readonly putsByKey = new Map<string, number>();
  rejected = 0;
  private server: Server | undefined;
  url = "";

  constructor(
    readonly bucket: string,
    readonly credentials: { accessKeyId: string; secretAccessKey: string },
    readonly region = "eu-south-1",
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const error = this.verify(req, body);
        if (error) {
          this.rejected++;
          res.writeHead(403, { "content-type": "application/xml" });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${error}</Code></Error>`);
          return;
        }
        const path = decodeURIComponent((req.url ?? "").split("?")[0]!);
        const prefix = `/${this.bucket}/`;
        if (!path.startsWith(prefix)) {
          res.writeHead(404).end();
          return;
        }
        const key = path.slice(prefix.length);
        if (req.method === "PUT") {
          this.puts++;
          this.putsByKey.set(key, (this.putsByKey.get(key) ?? 0) + 1);
          this.objects.set(key, {
            body,
            contentType: String(req.headers["content-type"] ?? ""),
            cacheControl: String(req.headers["cache-control"] ?? ""),
          });
          res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end();
          return;
        }
        const object = this.objects.get(key);
        if (!object) res.writeHead(404).end();
        else res.writeHead(200, { "content-type": object.contentType }).end(object.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  /** The S3 error code for a request that fails authentication, or undefined. */
  private verify(req: IncomingMessage, body: Buffer): string | undefined {
    const auth = String(req.headers.authorization ?? "");
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m) return "AccessDenied";
    const [, keyId, , region, signed] = m;
    if (keyId !== this.credentials.accessKeyId) return "InvalidAccessKeyId";
    if (region !== this.region) return "AuthorizationHeaderMalformed";
    const sha = String(req.headers["x-amz-content-sha256"] ?? "");
    if (sha !== "UNSIGNED-PAYLOAD" && sha !== createHash("sha256").update(body).digest("hex"))
      return "XAmzContentSHA256Mismatch";
    const headers: Record<string, string> = {};
    for (const name of signed!.split(";")) headers[name] = String(req.headers[name] ?? "");
    const expected = aws4.sign(
      // No body given, and the signed x-amz-date and x-amz-content-sha256 present: aws4 adds no header.
      { service: "s3", region, method: req.method, path: req.url, headers },
      this.credentials,
    ).headers.Authorization;
    return expected === auth ? undefined : "SignatureDoesNotMatch";
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
