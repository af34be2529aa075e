/**
 * What the monitor tests share: an Amends server listening on a real port with the monitor
 * engine running fast (flush every 100 ms), and targets that fail on cue: an HTTP server, a TCP
 * server and a DNS server speaking the real wire format over node:dgram.
 */
import dgram from "node:dgram";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import type { FastifyInstance } from "fastify";
import type { DampingOptions } from "../../src/core/monitors.ts";
import { buildServer } from "../../src/http/server.ts";
import { type MonitorEngine, startMonitors } from "../../src/monitors/engine.ts";
import type { Database } from "../../src/storage/database.ts";
import { createToken } from "../../src/tokens/store.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { type BackendName, freshDatabase } from "../support/backends.ts";

// The targets here are loopback servers: the operator's setting that allows private addresses
// (inherited by the probe processes these tests start).
process.env.AMENDS_MONITORS_ALLOW_PRIVATE = "1";

export const FAST: DampingOptions = { recoveryQuietMs: 1_500, flapWindowMs: 60_000, flapThreshold: 6 };

export interface MonitorApp {
  app: FastifyInstance;
  database: Database;
  engine: MonitorEngine;
  workspaceId: string;
  url: string;
  call(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startMonitorApp(backend: BackendName, damping = FAST): Promise<MonitorApp> {
  const database = await freshDatabase(backend);
  const ws = await createWorkspace(database.db, {
    slug: "fleet",
    name: "The Fleet",
    timeZone: "Europe/Rome",
  });
  const { secret } = await createToken(database.db, { workspaceId: ws.id, name: "test" });
  const app = await buildServer({ database, monitorDamping: damping });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const engine = await startMonitors(database, {
    damping,
    flushMs: 100,
    refreshMs: 300,
    alertsTickMs: 200,
    location: "local",
  });
  return {
    app,
    database,
    engine,
    workspaceId: ws.id,
    url,
    async call(method, path, body) {
      const res = await app.inject({
        method: method as "GET",
        url: path,
        headers: { authorization: `Bearer ${secret}` },
        ...(body !== undefined && { payload: body as object }),
      });
      let json: unknown;
      try {
        json = res.json();
      } catch {
        json = res.body;
      }
      return { status: res.statusCode, json };
    },
    async close() {
      await engine.stop();
      await app.close();
      await database.close();
    },
  };
}

/** An HTTP target: healthy JSON, or 503 on cue (for every caller, or for one source address). */
export async function flakyHttp() {
  const state = {
    failing: false,
    /** fail the next n requests only (a blip) */
    failNext: 0,
    /** fail requests from these source addresses only */
    failFrom: new Set<string>(),
    hits: 0,
    from: new Map<string, number>(),
  };
  const server = http.createServer((req, res) => {
    state.hits++;
    const addr = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    state.from.set(addr, (state.from.get(addr) ?? 0) + 1);
    const fail = state.failing || state.failFrom.has(addr) || state.failNext-- > 0;
    res.writeHead(fail ? 503 : 200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: fail ? "down" : "ok" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    state,
    url: `http://127.0.0.1:${port}/health`,
    close: () => new Promise<void>((r) => server.close(() => r())).then(() => server.closeAllConnections()),
  };
}

/** A TCP target that can go away and come back on the same port. */
export async function flakyTcp() {
  let server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    target: `127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
    },
    async start() {
      server = net.createServer((s) => s.end());
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    },
    close: () => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r())),
  };
}

/**
 * A DNS server on UDP answering A queries (RFC 1035 wire format): the configured address, or
 * SERVFAIL while failing.
 */
export async function flakyDns(address = "10.0.0.7") {
  const state = { failing: false, queries: 0 };
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    state.queries++;
    // Header (12 bytes), then the question: labels up to a zero byte, QTYPE, QCLASS.
    let end = 12;
    while (msg[end] !== 0) end += msg[end]! + 1;
    const question = msg.subarray(12, end + 5);
    const qtype = msg.readUInt16BE(end + 1);
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // same id
    const answer = !state.failing && qtype === 1;
    header.writeUInt16BE(state.failing ? 0x8182 : 0x8180, 2); // response, RD, RA; rcode 2 = SERVFAIL
    header.writeUInt16BE(1, 4); // QDCOUNT
    header.writeUInt16BE(answer ? 1 : 0, 6); // ANCOUNT
    const parts = [header, question];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question's
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6); // TTL
      rr.writeUInt16BE(4, 10);
      address.split(".").forEach((o, i) => {
        rr[12 + i] = Number(o);
      });
      parts.push(rr);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  return {
    state,
    server: `127.0.0.1:${socket.address().port}`,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
