/** Signing people in through the real API, for the access tests. */
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import type { Role } from "../../src/access/permissions.ts";
import { createUser } from "../../src/access/users.ts";
import type { Database } from "../../src/storage/database.ts";

export interface Person {
  id: string;
  email: string;
  password: string;
  cookie: string;
  csrf: string;
}

/** The `amends_session=…` pair from a response's Set-Cookie. */
export function sessionCookie(headers: Record<string, unknown>): string | undefined {
  const raw = headers["set-cookie"];
  const list = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  const found = list.find((c: string) => c.startsWith("amends_session="));
  return found?.split(";")[0];
}

export async function login(
  app: FastifyInstance,
  email: string,
  password: string,
  totp?: string,
): Promise<{ cookie: string; csrf: string; body: any }> {
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/session",
    payload: { email, password, ...(totp && { totp }) },
  });
  expect(res.statusCode, res.body).toBe(200);
  return { cookie: sessionCookie(res.headers)!, csrf: res.json().csrfToken, body: res.json() };
}

export async function addPerson(
  app: FastifyInstance,
  database: Database,
  workspaceId: string,
  role: Role,
  name: string = role,
): Promise<Person> {
  const email = `${name}-${Math.random().toString(36).slice(2, 8)}@fleet.example`;
  const password = `pw-${name}-long-enough`;
  const user = await createUser(database.db, { workspaceId, email, name, role, password }, new Date());
  const { cookie, csrf } = await login(app, email, password);
  return { id: user.id, email, password, cookie, csrf };
}

/** A JSON request as a signed-in person (with the CSRF header unless told otherwise). */
export async function as(
  app: FastifyInstance,
  who: Pick<Person, "cookie" | "csrf">,
  method: string,
  url: string,
  body?: unknown,
  options: { csrf?: string | null } = {},
) {
  const csrf = options.csrf === undefined ? who.csrf : options.csrf;
  const res = await app.inject({
    method: method as "GET",
    url,
    headers: { cookie: who.cookie, ...(csrf !== null && { "x-csrf-token": csrf }) },
    ...(body !== undefined && { payload: body as object }),
  });
  let json: any;
  try {
    json = res.json();
  } catch {
    json = res.body;
  }
  return { status: res.statusCode, json, headers: res.headers };
}
