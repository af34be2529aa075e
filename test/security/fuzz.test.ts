/**
 * No 5xx from input, and no write from a refused request (issue 18): the whole HTTP surface
 * fuzzed from its OpenAPI description (test/support/fuzz.ts) on both backends, the cases an
 * independent test found one by one, and every write while PostgreSQL is unreachable answering
 * 503 with Retry-After. FUZZ_REQUESTS and FUZZ_SEED override the size and the seed; a failure
 * prints the seed, and `npx tsx bench/fuzz.ts --seed N` replays it with the server's error log.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/http/server.ts";
import { openDatabase } from "../../src/storage/database.ts";
import { createToken } from "../../src/tokens/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { BACKENDS, freshDatabase, freshPostgresUrl } from "../support/backends.ts";
import {
  type FuzzTarget,
  fuzz,
  histogram,
  prepareFuzzTarget,
  summarise,
  takeChanges,
} from "../support/fuzz.ts";

const SIZE = { pglite: 2_000, postgres: 500 };
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe.each(BACKENDS)("input on %s", (backend) => {
  let t: FuzzTarget & { extraIds: Record<string, string[]> };

  beforeAll(async () => {
    const database = await freshDatabase(backend);
    t = await prepareFuzzTarget(database, (d) => buildServer({ database: d }));
  });
  afterAll(async () => {
    await t.app.close();
    await t.database.close();
  });

  const send = async (
    method: string,
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) => {
    await takeChanges(t.database);
    const res = await t.app.inject({
      method: method as "POST",
      url,
      headers: { authorization: `Bearer ${t.tokens.all}`, "content-type": "application/json", ...headers },
      ...(payload !== undefined && {
        payload: typeof payload === "string" ? payload : JSON.stringify(payload),
      }),
    });
    return { status: res.statusCode, json: res.json(), changes: await takeChanges(t.database) };
  };
  /** A 4xx problem naming `field`, and not a row changed. */
  const refused = async (status: number, field: string, res: ReturnType<typeof send>) => {
    const r = await res;
    expect(r.status, JSON.stringify(r.json)).toBe(status);
    expect(r.json.errors?.map((e: { field: string }) => e.field)).toContain(field);
    expect(r.changes).toEqual([]);
  };

  it("corrects an incident with a partial patch, and answers what it saved", async () => {
    const before = (await send("GET", "/api/v1/incidents/INC-1")).json;
    for (const patch of [{ impact: "none" }, {}, { title: "x" }]) {
      const res = await send("PATCH", "/api/v1/incidents/INC-1", patch);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      expect(res.json.started_at).toBe(before.started_at);
    }
    const after = (await send("GET", "/api/v1/incidents/INC-1")).json;
    expect([after.title, after.impact, after.started_at]).toEqual(["x", "none", before.started_at]);
  });

  it("answers 409 naming the id for an incident that exists", async () => {
    await refused(
      409,
      "id",
      send("POST", "/api/v1/incidents", { id: "INC-1", title: "Again", body: "Same id." }),
    );
    await refused(409, "id", send("POST", "/api/v1/components", { id: "svc", name: "Again" }));
  });

  it("refuses a NUL character in a path, a query or a body, naming the field", async () => {
    await refused(400, "id", send("GET", "/api/v1/users/%00"));
    await refused(400, "q", send("GET", "/api/v1/audit?q=%00"));
    await refused(400, "name", send("POST", "/api/v1/tokens", { name: "a\u0000b", scopes: ["read"] }));
    await refused(
      400,
      "name",
      send("POST", "/api/v1/status-pages", { id: "p2", name: "\u0000", components: ["svc"] }),
    );
    await refused(
      400,
      "translations.it.title",
      send("POST", "/api/v1/incidents", {
        title: "t",
        body: "b",
        translations: { it: { title: "a\u0000" } },
      }),
    );
    await refused(
      400,
      "body",
      send("POST", "/api/v1/policies", "name: a\u0000\n", { "content-type": "application/yaml" }),
    );
  });

  it("refuses a YAML alias bomb, deep JSON and malformed JSON as bad input", async () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    await refused(400, "policy", send("POST", "/api/v1/policies", { yaml: lines.join("\n") }));
    await refused(
      400,
      "body",
      send("POST", "/api/v1/incidents", `${"[".repeat(100_000)}${"]".repeat(100_000)}`),
    );
    await refused(400, "body", send("POST", "/api/v1/incidents", '{"title":'));
  });

  it("refuses numbers and dates past what the database holds, naming the field", async () => {
    const huge = Number.MAX_SAFE_INTEGER;
    await refused(400, "version", send("GET", `/api/v1/policies/fleet-end-rental-outage?version=${huge}`));
    await refused(
      400,
      "policy_version",
      send("POST", "/api/v1/incidents/INC-1/compensation-runs", {
        policy: "fleet-end-rental-outage",
        policy_version: 2 ** 31,
      }),
    );
    await refused(400, "since", send("GET", "/api/v1/reports?since=0000-01-01T00%3A00%3A00Z"));
  });

  it("authenticates a probe before it reads the body", async () => {
    const res = await send("POST", "/api/v1/probe/results", { results: "not a list" }, { authorization: "" });
    expect(res.status).toBe(401);
  });

  it("answers no 5xx, and changes nothing when it answers 4xx, to generated requests", async () => {
    const requests = Number(process.env.FUZZ_REQUESTS ?? SIZE[backend]);
    const report = await fuzz(t, { requests, seed: SEED, checkChanges: true, extraIds: t.extraIds });
    const context = `seed ${SEED}, ${histogram(report.statuses)}`;
    expect(summarise(report.serverErrors), `5xx (${context})`).toBe("");
    expect(summarise(report.changedOn4xx), `rows changed by a 4xx (${context})`).toBe("");
    expect(summarise(report.notProblems), `4xx not problem+json (${context})`).toBe("");
    // The generators reach past validation: a fair share of requests succeed.
    const ok = [...report.statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
    expect(ok / report.requests, context).toBeGreaterThan(0.15);
  }, 300_000);
});

/** A TCP relay in front of PostgreSQL that can be cut: the database "goes down" and comes back. */
function relay(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const start = (port = 0) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => resolve((server!.address() as { port: number }).port));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server?.close(() => resolve());
    });
  return { start, stop };
}

describe("writes while PostgreSQL is unreachable", () => {
  let app: FastifyInstance;
  let token: string;
  let cut: ReturnType<typeof relay>;
  let port: number;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const direct = new URL(await freshPostgresUrl());
    cut = relay(direct);
    port = await cut.start();
    const viaRelay = new URL(direct);
    viaRelay.port = String(port);
    const database = await openDatabase({ url: viaRelay.toString() });
    const ws = await createWorkspace(database.db, {
      slug: "fleet",
      name: "The Fleet",
      timeZone: "Europe/Rome",
    });
    token = (await createToken(database.db, { workspaceId: ws.id, name: "t" })).secret;
    app = await buildServer({ database });
    await app.ready();
    close = async () => {
      await app.close();
      await database.close();
      await cut.stop();
    };
  });
  afterAll(() => close());

  const write = (method: string, url: string, payload?: object) =>
    app.inject({
      method: method as "POST",
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload && { payload }),
    });
  const WRITES: [string, string, object?][] = [
    ["POST", "/api/v1/components", { id: "api", name: "API" }],
    ["PATCH", "/api/v1/components/svc", { name: "Service" }],
    ["POST", "/api/v1/incidents", { title: "Down", body: "Looking." }],
    ["POST", "/api/v1/tokens", { name: "another" }],
    ["DELETE", "/api/v1/components/svc"],
  ];

  it("answers 503 with Retry-After, then works again once the database is back", async () => {
    expect((await write("POST", "/api/v1/components", { id: "svc", name: "Svc" })).statusCode).toBe(201);
    await cut.stop();
    for (const [method, url, payload] of WRITES) {
      const res = await write(method, url, payload);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(503);
      expect(res.headers["retry-after"]).toMatch(/^\d+$/);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().code).toBe("UNAVAILABLE");
    }
    await cut.start(port);
    const back = await write("POST", "/api/v1/components", { id: "api", name: "API" });
    expect(back.statusCode, back.body).toBe(201);
  });
});
