/**
 * A small OpenID Connect provider on a loopback port, speaking the real wire format: discovery,
 * an authorization endpoint that consents at once for the person the test chose, a token
 * endpoint that checks the client secret and the PKCE verifier, and RS256 ID tokens with a JWKS.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOidc {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** who "signs in" at the provider next */
  person: { sub: string; email: string; email_verified: boolean };
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startFakeOidc(): Promise<FakeOidc> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = "k1";
  const codes = new Map<
    string,
    { challenge: string; nonce: string; redirect: string; sub: FakeOidc["person"] }
  >();
  const fake = {
    issuer: "",
    clientId: "amends",
    clientSecret: randomBytes(16).toString("hex"),
    person: { sub: "user-1", email: "ada@fleet.example", email_verified: true },
  } as FakeOidc;
  const idToken = (claims: Record<string, unknown>) => {
    const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign("sha256", Buffer.from(`${head}.${body}`), privateKey);
    return `${head}.${body}.${b64url(sig)}`;
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", fake.issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/openid-configuration")
      return json(200, {
        issuer: fake.issuer,
        authorization_endpoint: `${fake.issuer}/authorize`,
        token_endpoint: `${fake.issuer}/token`,
        jwks_uri: `${fake.issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      });
    if (url.pathname === "/jwks")
      return json(200, { keys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" }] });
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      if (q.get("client_id") !== fake.clientId || q.get("code_challenge_method") !== "S256")
        return json(400, { error: "invalid_request" });
      const code = randomBytes(16).toString("hex");
      codes.set(code, {
        challenge: q.get("code_challenge")!,
        nonce: q.get("nonce")!,
        redirect: q.get("redirect_uri")!,
        sub: { ...fake.person },
      });
      const back = new URL(q.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state")!);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const form = new URLSearchParams(raw);
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        const [id, secret] = basic
          ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent)
          : [form.get("client_id"), form.get("client_secret")];
        if (id !== fake.clientId || secret !== fake.clientSecret)
          return json(401, { error: "invalid_client" });
        const grant = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        const verifier = form.get("code_verifier") ?? "";
        if (
          !grant ||
          grant.redirect !== form.get("redirect_uri") ||
          b64url(createHash("sha256").update(verifier).digest()) !== grant.challenge
        )
          return json(400, { error: "invalid_grant" });
        const now = Math.floor(Date.now() / 1000);
        return json(200, {
          access_token: randomBytes(16).toString("hex"),
          token_type: "Bearer",
          expires_in: 300,
          id_token: idToken({
            iss: fake.issuer,
            aud: fake.clientId,
            iat: now,
            exp: now + 300,
            nonce: grant.nonce,
            ...grant.sub,
          }),
        });
      });
      return;
    }
    json(404, { error: "not_found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
