/**
 * Server-side request forgery: nothing that the public (a subscriber) or a monitors:write token
 * enters may make the server connect inside its own network. Loopback listeners stand in for
 * internal services; every spelling of a private address is tried through the public
 * subscription API (webhook, chat and push URLs) and the monitors API. The listeners must see
 * no connection at all, the answers must carry nothing of theirs, and the refusal is a 400 on
 * the field. A name that resolves to loopback only when it is dialled (DNS rebinding) is
 * refused at the dial too. And the public subscription limit is counted in the database, so
 * two servers on one database share it.
 */
import dns from "node:dns";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import webpush from "web-push";
import { buildServer } from "../../src/http/server.ts";
import {
  canonicalHost,
  NOT_PUBLIC,
  publicLookup,
  refusedHost,
  specialRange,
} from "../../src/lib/outbound.ts";
import { runCheck } from "../../src/monitors/checks.ts";
import { RefusedAddress } from "../../src/notifications/channels/http.ts";
import { channelsFromEnv, webhookSender } from "../../src/notifications/channels/index.ts";
import { webPushSender } from "../../src/notifications/channels/web-push.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";

// The operator's default: monitors may not reach private addresses.
delete process.env.AMENDS_MONITORS_ALLOW_PRIVATE;

const SECRET = "INTERNAL-ANSWER-7f3a9c";

/** An internal service: counts every connection (HTTP or not) and answers with a secret. */
async function internalService(host: string) {
  const seen = { connections: 0 };
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-internal": SECRET });
    res.end(`${SECRET} admin panel`);
  });
  server.on("connection", () => seen.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  return {
    seen,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Every way of writing an internal host that a URL or host:port can carry. */
const LOOPBACK_SPELLINGS = [
  "127.0.0.1",
  "localhost",
  "localhost.",
  "LocalHost",
  "api.localhost",
  "[::1]",
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "2130706433",
  "0x7f000001",
  "0177.0.0.1",
  "127.1",
  "127.000.000.001",
  "0",
  "0.0.0.0",
  "[::]",
];
const OTHER_INTERNAL = [
  "10.0.0.1",
  "172.16.5.4",
  "192.168.1.1",
  "169.254.169.254", // cloud metadata
  "100.64.0.1", // CGNAT
  "[fc00::1]",
  "[fd00:ec2::254]",
  "[fe80::1]",
  "224.0.0.1",
  "255.255.255.255",
  "[::ffff:10.0.0.1]",
  "[::ffff:169.254.169.254]",
  "[64:ff9b::7f00:1]",
  "[2002:7f00:1::]",
];

describe("the address classifier", () => {
  it("refuses every spelling of an internal address, and nothing public", () => {
    for (const host of [...LOOPBACK_SPELLINGS, ...OTHER_INTERNAL, "0x0a.0.0.1", "::1", "fe80::1%eth0"])
      expect(refusedHost(host), host).toBeDefined();
    for (const host of ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "localhost."])
      expect(refusedHost(host), host).toBe("loopback");
    expect(canonicalHost("2130706433")).toBe("127.0.0.1");
    expect(canonicalHost("[::ffff:127.0.0.1]")).toBe("::ffff:7f00:1");
    expect(specialRange("169.254.169.254")).toBe("linkLocal");
    expect(specialRange("100.64.0.1")).toBe("carrierGradeNat");
    expect(specialRange("fd12::1")).toBe("uniqueLocal");
    expect(specialRange("::ffff:10.1.1.1")).toBe("private");
    for (const host of ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "[2a00:1450::1]", "hooks.slack.com"])
      expect(refusedHost(host), host).toBeUndefined();
  });

  it("hands the socket only the public addresses a name resolves to", async () => {
    const lookup = dns.lookup;
    const spy = vi.spyOn(dns, "lookup").mockImplementation(((
      name: string,
      options: unknown,
      callback: (err: Error | null, addresses: dns.LookupAddress[]) => void,
    ) => {
      if (name === "mixed.test")
        return callback(null, [
          { address: "127.0.0.1", family: 4 },
          { address: "93.184.215.14", family: 4 },
        ]);
      if (name === "inside.test") return callback(null, [{ address: "10.0.0.7", family: 4 }]);
      return (lookup as (...args: unknown[]) => void)(name, options, callback);
    }) as never);
    try {
      const ask = (name: string, all: boolean) =>
        new Promise<{ err: Error | null; address: unknown }>((resolve) =>
          publicLookup(name, { all }, (err, address) => resolve({ err, address })),
        );
      expect(await ask("mixed.test", true)).toEqual({
        err: null,
        address: [{ address: "93.184.215.14", family: 4 }],
      });
      expect((await ask("mixed.test", false)).address).toBe("93.184.215.14");
      expect((await ask("inside.test", false)).err?.message).toBe(NOT_PUBLIC);
    } finally {
      spy.mockRestore();
    }
  });
});

describe.each(BACKENDS)("SSRF on %s", (backend) => {
  let t: TestApp;
  let service: Awaited<ReturnType<typeof internalService>>;
  let service6: Awaited<ReturnType<typeof internalService>> | undefined;
  let closedPort = 0;
  let nextIp = 1;
  /** A public request from its own client address, so the per-IP limit stays out of the way. */
  const publicPost = async (url: string, body: unknown, ip = `198.51.100.${nextIp++ % 250}`) => {
    const res = await t.app.inject({ method: "POST", url, payload: body as object, remoteAddress: ip });
    return { status: res.statusCode, text: res.body, json: res.json() };
  };
  const connections = () => service.seen.connections + (service6?.seen.connections ?? 0);
  const expectNothingOfTheirs = (text: string) => {
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|socket hang up|admin panel/i);
  };

  beforeAll(async () => {
    service = await internalService("127.0.0.1");
    service6 = await internalService("::1").catch(() => undefined);
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const vapid = { ...webpush.generateVAPIDKeys(), subject: "mailto:ops@fleet.test" };
    // The registry `amends serve` builds (webhook, slack, teams, discord), and web push.
    const channels = { ...channelsFromEnv({}), web_push: [webPushSender({ vapid, timeoutMs: 2_000 })] };
    t = await startTestApp(backend, { channels });
  }, 180_000); // a fresh database migrates slowly on a loaded machine
  afterAll(async () => {
    await t?.close();
    await service?.close();
    await service6?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("public subscriptions refuse every internal URL with a 400 on address, connecting nowhere", async () => {
    const hosts = [...LOOPBACK_SPELLINGS, ...OTHER_INTERNAL];
    const answers = new Set<string>();
    for (const channel of ["webhook", "slack", "teams", "discord", "web_push"]) {
      for (const host of channel === "webhook" || channel === "slack" ? hosts : hosts.slice(0, 8)) {
        for (const port of [service.port, closedPort]) {
          const address = `http://${host}:${port}/internal/hook`;
          const res = await publicPost("/api/v1/public/subscriptions", {
            channel,
            address,
            ...(channel === "web_push" && { keys: { p256dh: "BOr8", auth: "x1" } }),
          });
          expect(res.status, `${channel} ${address}`).toBe(400);
          expect(res.json.errors, `${channel} ${address}`).toEqual([
            expect.objectContaining({ field: "address" }),
          ]);
          expectNothingOfTheirs(res.text);
          // the same answer for an open port and a closed one: no port scanner
          answers.add(res.json.detail);
        }
      }
    }
    expect([...answers]).toHaveLength(1);
    expect(connections()).toBe(0);
    // nothing was written for any of them
    const [{ n }] = (await t.database.query<{ n: number }>("select count(*)::int as n from subscribers")) as [
      { n: number },
    ];
    expect(n).toBe(0);
  });

  it("https and odd URL forms are refused too", async () => {
    for (const address of [
      `https://127.0.0.1:${service.port}/`,
      `http://user:pass@127.0.0.1:${service.port}/`,
      `http://127.0.0.1:${service.port}#@hooks.slack.com/`,
      `http://0x7f.0x0.0x0.0x1:${service.port}/`,
      `http://127.0.0.1.:${service.port}/`,
    ]) {
      const res = await publicPost("/api/v1/public/subscriptions", { channel: "webhook", address });
      expect(res.status, address).toBe(400);
      expect(res.json.errors[0].field).toBe("address");
    }
    expect(connections()).toBe(0);
  });

  it("a name that turns internal by the time it is dialled is refused at the dial", async () => {
    const lookup = dns.lookup;
    let asked = 0;
    vi.spyOn(dns, "lookup").mockImplementation(((
      name: string,
      options: unknown,
      callback: (err: Error | null, addresses: dns.LookupAddress[]) => void,
    ) => {
      if (name !== "hooks.rebind.test")
        return (lookup as (...args: unknown[]) => void)(name, options, callback);
      // first a public answer (when the address is entered), then loopback (when it is dialled)
      const address = asked++ === 0 ? "93.184.215.14" : "127.0.0.1";
      callback(null, [{ address, family: 4 }]);
    }) as never);
    const res = await publicPost("/api/v1/public/subscriptions", {
      channel: "webhook",
      address: `http://hooks.rebind.test:${service.port}/internal`,
    });
    expect(asked).toBe(2);
    expect(res.status).toBe(400);
    expect(res.json.errors[0].field).toBe("address");
    expectNothingOfTheirs(res.text);
    // The delivery path on its own: the sender refuses, permanently, before connecting.
    const err = await webhookSender({ timeoutMs: 2_000 })
      .send({
        idempotencyKey: "evt:1:webhook",
        channel: "webhook",
        address: `http://hooks.rebind.test:${service.port}/internal`,
        locale: "en",
        event: "incident.opened",
        subject: "s",
        text: "t",
        secrets: { webhook_secret: `whsec_${Buffer.from("0123456789abcdef0123456789").toString("base64")}` },
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RefusedAddress);
    expect(err.message).not.toContain("127.0.0.1");
    expect(connections()).toBe(0);
  });

  it("a public host that cannot be reached answers 503 in our words", async () => {
    const res = await publicPost("/api/v1/public/subscriptions", {
      channel: "webhook",
      address: "https://hooks.amends.invalid/x",
    });
    expect(res.status).toBe(503);
    expect(res.json.detail).toBe("the confirmation could not be sent; try again");
  });

  it("monitors refuse internal targets when entered, and the checks refuse them when run", async () => {
    const port = service.port;
    const targets: [string, (host: string) => string][] = [
      ["http", (h) => `http://${h}:${port}/internal`],
      ["tcp", (h) => `${h}:${port}`],
      ["tls", (h) => `${h}:${port}`],
    ];
    let i = 0;
    for (const [kind, target] of targets)
      for (const host of [...LOOPBACK_SPELLINGS, ...OTHER_INTERNAL]) {
        const res = await t.call("POST", "/api/v1/monitors", {
          id: `m${i++}`,
          name: "Internal",
          kind,
          target: target(host),
          assertions: kind === "http" ? { keyword: SECRET } : {},
        });
        expect(res.status, `${kind} ${target(host)}`).toBe(400);
        expect(res.json.errors, `${kind} ${target(host)}`).toEqual([
          expect.objectContaining({ field: "target" }),
        ]);
        expectNothingOfTheirs(JSON.stringify(res.json));
      }
    for (const host of ["127.0.0.1", "localhost", "2130706433", "::1", "169.254.169.254"]) {
      const res = await t.call("POST", "/api/v1/monitors", { name: "Ping", kind: "ping", target: host });
      expect(res.status, host).toBe(400);
      expect(res.json.errors[0].field).toBe("target");
    }
    const dnsServer = await t.call("POST", "/api/v1/monitors", {
      name: "DNS",
      kind: "dns",
      target: "fleet.example",
      assertions: { server: `127.0.0.1:${port}` },
    });
    expect(dnsServer.status).toBe(400);
    expect(dnsServer.json.errors[0].field).toBe("assertions.server");
    // A public monitor may not be turned inward either.
    const ok = await t.call("POST", "/api/v1/monitors", {
      id: "public",
      name: "Public",
      kind: "http",
      target: "https://status.fleet.invalid/",
    });
    expect(ok.status).toBe(201);
    const patched = await t.call("PATCH", "/api/v1/monitors/public", {
      target: `http://[::ffff:127.0.0.1]:${port}/`,
    });
    expect(patched.status).toBe(400);
    expect(patched.json.errors[0].field).toBe("target");
    expect((await t.call("GET", "/api/v1/monitors")).json.items).toHaveLength(1);

    // The checks themselves, as the engine and probes run them: refused before connecting, so a
    // keyword assertion says nothing about an internal body.
    const check = (kind: string, target: string, assertions: Record<string, unknown> = {}) =>
      runCheck({ id: "x", kind: kind as "http", target, timeoutMs: 1_000, retries: 0, assertions });
    for (const host of ["127.0.0.1", "localhost", "[::1]", "2130706433", "0177.0.0.1"]) {
      expect(await check("http", `http://${host}:${port}/`, { keyword: SECRET })).toEqual({
        ok: false,
        latencyMs: null,
        error: NOT_PUBLIC,
      });
      expect((await check("http", `http://${host}:${port}/`, { keyword: "nope" })).error).toBe(NOT_PUBLIC);
      expect((await check("tcp", `${host}:${port}`)).error).toBe(NOT_PUBLIC);
      expect((await check("tls", `${host}:${port}`)).error).toBe(NOT_PUBLIC);
    }
    expect((await check("tcp", `127.0.0.1:${closedPort}`)).error).toBe(NOT_PUBLIC);
    expect((await check("ping", "127.0.0.1")).error).toBe(NOT_PUBLIC);
    expect((await check("dns", "fleet.example", { server: `127.0.0.1:${port}` })).error).toBe(NOT_PUBLIC);
    expect(connections()).toBe(0);
  });

  it("the public subscription limit is one count for every server on the database", async () => {
    // A second server on the same database, as a second process would be.
    const other = await buildServer({ database: t.database, channels: channelsFromEnv({}) });
    try {
      const statuses: number[] = [];
      for (let n = 0; n < 22; n++) {
        const app = n % 2 === 0 ? t.app : other;
        const res = await app.inject({
          method: "POST",
          url: "/api/v1/public/subscriptions",
          payload: { channel: "webhook", address: `http://127.0.0.1:${service.port}/${n}` },
          remoteAddress: "203.0.113.77",
        });
        statuses.push(res.statusCode);
      }
      expect(statuses.slice(0, 20).every((s) => s === 400)).toBe(true);
      expect(statuses.slice(20)).toEqual([429, 429]);
    } finally {
      await other.close();
    }
    expect(connections()).toBe(0);
  });
});
