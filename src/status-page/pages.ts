/**
 * More status pages per workspace, and private ones. A page shows chosen components (with their
 * subtrees) and what touches them; it is reached by host name or at /p/<id>/. A private page
 * admits a request from an allowed IP range, or one carrying its signed cookie, got with the
 * page's password or with a login link e-mailed to an address of an allowed domain.
 */
import { createHmac, randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { and, eq } from "drizzle-orm";
import { requireComponents } from "../components/store.ts";
import { type Component, publicComponentIds } from "../core/components.ts";
import { conflict, invalidField, notFound } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { statusPages } from "../storage/schema.ts";

export type StatusPage = typeof statusPages.$inferSelect;

export const isPrivate = (p: StatusPage) =>
  Boolean(p.passwordHash) || p.emailDomains.length > 0 || p.ipAllow.length > 0;

/** The components the public may see, given the workspace's pages (core/components.ts publicComponentIds). */
export const visibleToPublic = (components: readonly Component[], pages: readonly StatusPage[]) =>
  publicComponentIds(
    components,
    pages.map((p) => ({ components: p.components, private: isPrivate(p) })),
  );

/** A login lasts a working day; a login link must be used within the hour. */
const SESSION_MS = 12 * 3_600_000;
const LINK_MS = 3_600_000;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("base64url")}$${scryptSync(password, salt, 32).toString("base64url")}`;
}

export function passwordMatches(hash: string | null, password: string): boolean {
  const [kind, salt, want] = (hash ?? "").split("$");
  if (kind !== "scrypt" || !salt || !want) return false;
  const got = scryptSync(password, Buffer.from(salt, "base64url"), 32);
  const expected = Buffer.from(want, "base64url");
  return got.length === expected.length && timingSafeEqual(got, expected);
}

const mac = (secret: string, text: string) => createHmac("sha256", secret).update(text).digest("base64url");
const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export const cookieName = (pageId: string) => `amends_page_${pageId.replace(/[^A-Za-z0-9_-]/g, "_")}`;

/**
 * What a sign-in was granted under: the password, the allowed e-mail domains and the IP list.
 * It is signed into every cookie and login link, so changing any of them ends every sign-in.
 */
const grantOf = (page: StatusPage) =>
  JSON.stringify([page.passwordHash, [...page.emailDomains].sort(), [...page.ipAllow].sort()]);

/** The signed session cookie's value: expiry, HMAC over page, expiry and grant. */
export const sessionCookie = (secret: string, page: StatusPage, now: number) => {
  const exp = now + SESSION_MS;
  return `${exp}.${mac(secret, `page-session:${page.id}:${exp}:${grantOf(page)}`)}`;
};

function cookieValid(secret: string, page: StatusPage, value: string | undefined, now: number): boolean {
  const [expText, sig] = (value ?? "").split(".");
  const exp = Number(expText);
  return (
    Boolean(sig) && exp > now && same(sig!, mac(secret, `page-session:${page.id}:${exp}:${grantOf(page)}`))
  );
}

/** A login link's token: the e-mail it was sent to, expiry, HMAC over both, the page and its grant. */
export const loginToken = (secret: string, page: StatusPage, email: string, now: number) => {
  const exp = now + LINK_MS;
  const e = Buffer.from(email).toString("base64url");
  return `${e}.${exp}.${mac(secret, `page-login:${page.id}:${email}:${exp}:${grantOf(page)}`)}`;
};

export function loginTokenValid(secret: string, page: StatusPage, token: string, now: number): boolean {
  const [e, expText, sig] = token.split(".");
  const exp = Number(expText);
  if (!e || !sig || !(exp > now)) return false;
  const email = Buffer.from(e, "base64url").toString();
  return (
    emailAdmitted(page, email) &&
    same(sig, mac(secret, `page-login:${page.id}:${email}:${exp}:${grantOf(page)}`))
  );
}

export const emailAdmitted = (page: StatusPage, email: string) => {
  const domain = email.toLowerCase().split("@")[1];
  return Boolean(domain) && page.emailDomains.includes(domain!);
};

const blockLists = new WeakMap<StatusPage, BlockList>();
function ipAdmitted(page: StatusPage, ip: string): boolean {
  if (page.ipAllow.length === 0) return false;
  let list = blockLists.get(page);
  if (!list) {
    list = new BlockList();
    for (const entry of page.ipAllow) {
      const [address, bits] = entry.split("/");
      const type = isIP(address!) === 6 ? "ipv6" : "ipv4";
      if (bits) list.addSubnet(address!, Number(bits), type);
      else list.addAddress(address!, type);
    }
    blockLists.set(page, list);
  }
  const plain = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return list.check(plain, isIP(plain) === 6 ? "ipv6" : "ipv4");
}

export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

/** Whether a request may see the page. */
export function admits(
  page: StatusPage,
  secret: string,
  req: { ip: string; headers: { cookie?: string } },
  now: number,
): boolean {
  if (!isPrivate(page)) return true;
  if (ipAdmitted(page, req.ip)) return true;
  return cookieValid(secret, page, cookieOf(req.headers.cookie, cookieName(page.id)), now);
}

// ---- Store. ----

export interface PageInput {
  id: string;
  name: string;
  hostname?: string | null;
  components: string[];
  password?: string | null;
  emailDomains?: string[];
  ipAllow?: string[];
}

function checkIpAllow(entries: string[]) {
  entries.forEach((entry, i) => {
    const [address, bits] = entry.split("/");
    const v = isIP(address ?? "");
    const max = v === 6 ? 128 : 32;
    if (!v || (bits !== undefined && !(Number(bits) >= 0 && Number(bits) <= max && /^\d+$/.test(bits))))
      throw invalidField(`ip_allow.${i}`, "an IP address or CIDR range such as 10.0.0.0/8");
  });
}

export async function listPages(db: Db, workspaceId: string): Promise<StatusPage[]> {
  return db.select().from(statusPages).where(eq(statusPages.workspaceId, workspaceId));
}

export async function savePage(
  db: Db,
  workspaceId: string,
  input: PageInput,
  now: Date,
  mode: "create" | "update",
): Promise<StatusPage> {
  if (input.components.length === 0) throw invalidField("components", "a page shows at least one component");
  await requireComponents(db, workspaceId, input.components, (i) => `components.${i}`);
  checkIpAllow(input.ipAllow ?? []);
  const values = {
    name: input.name,
    hostname: input.hostname?.toLowerCase() ?? null,
    components: input.components,
    ...(input.password !== undefined && {
      passwordHash: input.password ? hashPassword(input.password) : null,
    }),
    emailDomains: (input.emailDomains ?? []).map((d) => d.toLowerCase()),
    ipAllow: input.ipAllow ?? [],
    updatedAt: now,
  };
  try {
    if (mode === "create") {
      const [row] = await db
        .insert(statusPages)
        .values({ workspaceId, id: input.id, createdAt: now, ...values })
        .returning();
      return row!;
    }
    const [row] = await db
      .update(statusPages)
      .set(values)
      .where(and(eq(statusPages.workspaceId, workspaceId), eq(statusPages.id, input.id)))
      .returning();
    if (!row) throw notFound("status page", input.id);
    return row;
  } catch (err) {
    const code =
      (err as { code?: string; cause?: { code?: string } }).code ??
      (err as { cause?: { code?: string } }).cause?.code;
    if (code === "23505")
      throw conflict(
        mode === "create"
          ? `a page "${input.id}" or with this host name already exists`
          : "this host name is taken",
        "hostname",
      );
    throw err;
  }
}

export async function deletePage(db: Db, workspaceId: string, id: string) {
  const rows = await db
    .delete(statusPages)
    .where(and(eq(statusPages.workspaceId, workspaceId), eq(statusPages.id, id)))
    .returning({ id: statusPages.id });
  if (rows.length === 0) throw notFound("status page", id);
}
