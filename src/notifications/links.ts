/**
 * Signed links in messages: unsubscribe (RFC 8058 one-click too), confirm a subscription. They
 * work from the link alone, without a login, and cannot be forged or pointed at someone else:
 * the payload is HMAC-SHA256-signed with the workspace's link secret.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type LinkPurpose = "unsubscribe" | "confirm";

export interface LinkClaims {
  purpose: LinkPurpose;
  workspaceId: string;
  /** subscriber:<id>, customer:<id> or team:<n> */
  recipient: string;
  channel: string;
  address: string;
}

const mac = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("base64url");

export function signLink(secret: string, claims: LinkClaims): string {
  const body = Buffer.from(
    JSON.stringify([claims.purpose, claims.workspaceId, claims.recipient, claims.channel, claims.address]),
  ).toString("base64url");
  return `${body}.${mac(secret, body)}`;
}

/** The claims of a well-formed token, unverified: they name the workspace whose secret checks it. */
export function readLink(token: string): LinkClaims | undefined {
  const [body] = token.split(".");
  try {
    const [purpose, workspaceId, recipient, channel, address] = JSON.parse(
      Buffer.from(body ?? "", "base64url").toString("utf8"),
    );
    if ([purpose, workspaceId, recipient, channel, address].some((v) => typeof v !== "string"))
      return undefined;
    return { purpose, workspaceId, recipient, channel, address };
  } catch {
    return undefined;
  }
}

export function verifyLink(secret: string, token: string, purpose: LinkPurpose): LinkClaims | undefined {
  const [body, signature] = token.split(".");
  if (!body || !signature) return undefined;
  const expected = Buffer.from(mac(secret, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  const claims = readLink(token);
  return claims?.purpose === purpose ? claims : undefined;
}
