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

/**
 * An SMS's unsubscribe token, short because every character is paid for: the recipient and a
 * 96-bit MAC over what the full token would claim ("c-C1.Xy…"). The workspace is the host's and
 * the address is looked up, so neither travels; `shortLinkClaims` checks it against them.
 */
export function signShortLink(secret: string, claims: Omit<LinkClaims, "purpose">): string {
  const [kind, ...id] = claims.recipient.split(":");
  return `${kind!.charAt(0)}-${encodeURIComponent(id.join(":"))}.${shortMac(secret, claims)}`;
}

const shortMac = (secret: string, c: Omit<LinkClaims, "purpose">) =>
  mac(secret, ["short-unsubscribe", c.workspaceId, c.recipient, c.channel, c.address].join("\u0000")).slice(
    0,
    16,
  );

/** The recipient a short token names ("customer:C1"), unverified; undefined when it is not one. */
export function shortLinkRecipient(token: string): string | undefined {
  const m = /^([cs])-([^.]+)\.[\w-]{16}$/.exec(token);
  if (!m) return undefined;
  try {
    return `${m[1] === "c" ? "customer" : "subscriber"}:${decodeURIComponent(m[2]!)}`;
  } catch {
    return undefined;
  }
}

/** The unsubscribe claims of a short token, when its MAC matches one of the recipient's addresses. */
export function shortLinkClaims(
  secret: string,
  token: string,
  workspaceId: string,
  channel: string,
  addresses: readonly string[],
): LinkClaims | undefined {
  const recipient = shortLinkRecipient(token);
  if (!recipient) return undefined;
  const given = Buffer.from(token.slice(token.lastIndexOf(".") + 1));
  for (const address of addresses) {
    const claims = { workspaceId, recipient, channel, address };
    const expected = Buffer.from(shortMac(secret, claims));
    if (expected.length === given.length && timingSafeEqual(expected, given))
      return { purpose: "unsubscribe", ...claims };
  }
  return undefined;
}
