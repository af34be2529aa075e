/**
 * A Web Push service (RFC 8030) with the checks a real one makes: VAPID authorization
 * (`vapid t=<JWT>, k=<key>`, ES256 signature, aud = our origin, exp within 24 h, sub a mailto:
 * or https: URL), TTL present, `Content-Encoding: aes128gcm`. Subscriptions are made here
 * like a browser would (`subscribe()`: P-256 key pair + auth secret), so the fake can decrypt
 * each payload per RFC 8291 and tests can assert what the service worker would receive.
 * `unsubscribe(endpoint)` makes the endpoint answer 410 Gone.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify,
} from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export interface PushSubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushDelivery {
  endpoint: string;
  ttl: number;
  topic?: string;
  urgency?: string;
  vapid: { aud: string; sub: string; exp: number; key: string };
  /** the decrypted payload */
  payload: string;
}

const b64u = (b: Buffer) => b.toString("base64url");

/** RFC 8291 §3.4 / RFC 8188: decrypt a single-record aes128gcm body with the subscriber's keys. */
export function decryptAes128gcm(
  body: Buffer,
  uaPrivate: Buffer,
  uaPublic: Buffer,
  authSecret: Buffer,
): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(uaPrivate);
  const shared = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", shared, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(-16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, -16)), decipher.final()]);
  // the last record ends with the delimiter 0x02 followed by zero padding
  const end = padded.lastIndexOf(2);
  if (end < 0 || padded.subarray(end + 1).some((b) => b !== 0)) throw new Error("bad padding");
  return padded.subarray(0, end).toString("utf8");
}

/** Checks a `vapid t=…, k=…` header and returns its claims, or a reason it is refused. */
export function checkVapid(header: string | undefined, origin: string) {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (!m) return { error: "missing or malformed vapid authorization" };
  const [head, claims, sig] = m[1]!.split(".");
  const raw = Buffer.from(m[2]!, "base64url");
  if (raw.length !== 65 || raw[0] !== 4) return { error: "k is not an uncompressed P-256 point" };
  const key = createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) },
    format: "jwk",
  });
  const header_ = JSON.parse(Buffer.from(head!, "base64url").toString());
  if (header_.alg !== "ES256") return { error: "alg must be ES256" };
  const ok = verify(
    "sha256",
    Buffer.from(`${head}.${claims}`),
    { key, dsaEncoding: "ieee-p1363" },
    Buffer.from(sig!, "base64url"),
  );
  if (!ok) return { error: "bad signature" };
  const c = JSON.parse(Buffer.from(claims!, "base64url").toString());
  const now = Math.floor(Date.now() / 1000);
  if (c.aud !== origin) return { error: `aud ${c.aud} is not ${origin}` };
  if (!(c.exp > now && c.exp <= now + 86_400)) return { error: "exp must be within 24 hours" };
  if (!/^(mailto:|https:)/.test(c.sub ?? "")) return { error: "sub must be mailto: or https:" };
  return { claims: { aud: c.aud as string, sub: c.sub as string, exp: c.exp as number, key: m[2]! } };
}

/** Encrypts like a real application server would; used to test the decryption itself. */
export function encryptAes128gcm(plain: string, uaPublic: Buffer, authSecret: Buffer): Buffer {
  const ecdh = createECDH("prime256v1");
  const asPublic = ecdh.generateKeys();
  const salt = randomBytes(16);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdh.computeSecret(uaPublic), authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const cipher = createCipheriv("aes-128-gcm", cek, nonce);
  const sealed = Buffer.concat([
    cipher.update(Buffer.concat([Buffer.from(plain), Buffer.from([2])])),
    cipher.final(),
  ]);
  const header = Buffer.alloc(21);
  salt.copy(header);
  header.writeUInt32BE(4096, 16);
  header[20] = 65;
  return Buffer.concat([header, asPublic, sealed, cipher.getAuthTag()]);
}

export class PushServiceFake extends FakeHttpServer {
  readonly deliveries: PushDelivery[] = [];
  readonly refused: { path: string; reason: string }[] = [];
  private readonly subscriptions = new Map<
    string,
    { privateKey: Buffer; publicKey: Buffer; auth: Buffer; gone: boolean }
  >();

  /** A new subscription, as `PushSubscription.toJSON()` gives it in a browser. */
  subscribe(): PushSubscriptionJson {
    const ecdh = createECDH("prime256v1");
    const publicKey = ecdh.generateKeys();
    const auth = randomBytes(16);
    const id = randomBytes(12).toString("base64url");
    this.subscriptions.set(`/push/${id}`, { privateKey: ecdh.getPrivateKey(), publicKey, auth, gone: false });
    return { endpoint: `${this.url}/push/${id}`, keys: { p256dh: b64u(publicKey), auth: b64u(auth) } };
  }

  unsubscribe(endpoint: string) {
    const sub = this.subscriptions.get(new URL(endpoint).pathname);
    if (sub) sub.gone = true;
  }

  private refuse(req: Recorded, status: number, reason: string): Reply {
    this.refused.push({ path: req.path, reason });
    return { status, body: { code: status, errno: 109, error: "Refused", message: reason } };
  }

  protected route(req: Recorded): Reply {
    const sub = this.subscriptions.get(req.path);
    if (req.method !== "POST" || !sub) return this.refuse(req, 404, "no such subscription");
    if (sub.gone) return this.refuse(req, 410, "subscription expired");
    const vapid = checkVapid(req.headers.authorization, this.url);
    if ("error" in vapid) return this.refuse(req, 401, vapid.error!);
    if (req.headers["content-encoding"] !== "aes128gcm")
      return this.refuse(req, 400, "content-encoding must be aes128gcm");
    if (req.headers.ttl === undefined) return this.refuse(req, 400, "missing TTL header");
    if (req.body.length > 4096) return this.refuse(req, 413, "payload too large");
    let payload: string;
    try {
      payload = decryptAes128gcm(req.body, sub.privateKey, sub.publicKey, sub.auth);
    } catch (err) {
      return this.refuse(req, 400, `cannot decrypt: ${(err as Error).message}`);
    }
    const topic = req.headers.topic as string | undefined;
    this.deliveries.push({
      endpoint: `${this.url}${req.path}`,
      ttl: Number(req.headers.ttl),
      topic,
      urgency: req.headers.urgency as string | undefined,
      vapid: vapid.claims!,
      payload,
    });
    return { status: 201, headers: { location: `${this.url}/message/${randomBytes(8).toString("hex")}` } };
  }
}
