/**
 * The checks themselves, one function per kind, each bounded by the monitor's timeout and
 * retried `retries` times before it counts as a failure. The server and `amends probe` run the
 * same code. Heartbeats are not checked here: silence is judged from the database (engine.ts).
 * Every connection goes through the outbound guard (src/lib/outbound.ts): private addresses are
 * refused before anything is sent, unless the operator allows them (AMENDS_MONITORS_ALLOW_PRIVATE),
 * so a monitor cannot report on, or keyword-test, the server's own network.
 */
import { spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import { monitorsAllowPrivate } from "../config.ts";
import { certificateFailure, type HttpAssertions, httpFailure, type MonitorKind } from "../core/monitors.ts";
import { dialOptions, failureText, NOT_PUBLIC, publicLookup, refusedHost, send } from "../lib/outbound.ts";

export interface CheckSpec {
  id: string;
  kind: MonitorKind;
  target: string;
  timeoutMs: number;
  retries: number;
  assertions: Record<string, unknown>;
}

export interface CheckOutcome {
  ok: boolean;
  latencyMs: number | null;
  error?: string;
}

const MAX_BODY = 1024 * 1024;

/**
 * The local address checks connect from (http and tcp), when this host has several: a probe
 * may check from its own network (AMENDS_PROBE_SOURCE_ADDRESS), not the server's.
 */
let sourceAddress: string | undefined;
export const setSourceAddress = (address: string | undefined) => {
  sourceAddress = address || undefined;
};

export async function runCheck(spec: CheckSpec, now: () => Date = () => new Date()): Promise<CheckOutcome> {
  let outcome: CheckOutcome = { ok: false, latencyMs: null, error: "not run" };
  for (let attempt = 0; attempt <= spec.retries; attempt++) {
    try {
      outcome = await once(spec, now);
    } catch (err) {
      outcome = { ok: false, latencyMs: null, error: failureText(err) };
    }
    if (outcome.ok) return outcome;
  }
  return outcome;
}

function once(spec: CheckSpec, now: () => Date): Promise<CheckOutcome> {
  switch (spec.kind) {
    case "http":
      return checkHttp(spec);
    case "tcp":
      return checkTcp(spec);
    case "dns":
      return checkDns(spec);
    case "tls":
      return checkTls(spec, now);
    case "ping":
      return checkPing(spec);
    case "heartbeat":
    case "signal":
      return Promise.resolve({
        ok: false,
        latencyMs: null,
        error: `${spec.kind} monitors are judged from the database`,
      });
  }
}

const elapsed = (start: bigint) => Math.round(Number(process.hrtime.bigint() - start) / 1e6);

async function checkHttp(spec: CheckSpec): Promise<CheckOutcome> {
  const a = spec.assertions as HttpAssertions & { method?: string; headers?: Record<string, string> };
  const start = process.hrtime.bigint();
  // Keep-alive agents (in the guard): thousands of monitors on one host share connections.
  const res = await send(spec.target, {
    method: a.method ?? "GET",
    headers: { "user-agent": "Amends-Monitor/0.1", ...a.headers },
    timeoutMs: spec.timeoutMs,
    allowPrivate: monitorsAllowPrivate(),
    maxBytes: MAX_BODY,
    localAddress: sourceAddress,
  });
  const latencyMs = elapsed(start);
  const error = httpFailure({ status: res.status, body: res.body.toString("utf8"), latencyMs }, a);
  return error ? { ok: false, latencyMs, error } : { ok: true, latencyMs };
}

/** `host:port`, with IPv6 hosts in brackets. */
export function hostPort(target: string, defaultPort?: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(target.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, ""));
  const port = Number(m?.[2] ?? defaultPort);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not host:port: ${target}`);
  return { host: m[1]!, port };
}

/** The host of a DNS server given as an address, [v6]:port or v4:port; undefined when it is neither. */
export function resolverHost(server: string): string | undefined {
  if (net.isIP(server)) return server;
  try {
    return hostPort(server, 53).host;
  } catch {
    return undefined;
  }
}

function checkTcp(spec: CheckSpec): Promise<CheckOutcome> {
  const { host, port } = hostPort(spec.target);
  const dial = dialOptions(host, monitorsAllowPrivate());
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const socket = net.connect({
      ...dial,
      port,
      timeout: spec.timeoutMs,
      ...(sourceAddress && { localAddress: sourceAddress }),
    });
    const done = (outcome: CheckOutcome) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once("connect", () => done({ ok: true, latencyMs: elapsed(start) }));
    socket.once("timeout", () =>
      done({ ok: false, latencyMs: null, error: `timed out after ${spec.timeoutMs} ms` }),
    );
    socket.once("error", (err) => done({ ok: false, latencyMs: null, error: failureText(err) }));
  });
}

async function checkDns(spec: CheckSpec): Promise<CheckOutcome> {
  const a = spec.assertions as { server?: string; recordType?: string; expect?: string };
  const resolver = new Resolver({ timeout: spec.timeoutMs, tries: 1 });
  if (a.server) {
    // The server is asked over UDP: it must be a public address like any other target.
    if (!monitorsAllowPrivate() && refusedHost(resolverHost(a.server) ?? a.server))
      return { ok: false, latencyMs: null, error: NOT_PUBLIC };
    resolver.setServers([a.server]);
  }
  const type = (a.recordType ?? "A").toUpperCase();
  const start = process.hrtime.bigint();
  const answers = (await resolver.resolve(spec.target, type as "A")) as unknown[];
  const latencyMs = elapsed(start);
  const texts = answers.map((x) =>
    typeof x === "string" ? x : Array.isArray(x) ? x.join("") : JSON.stringify(x),
  );
  if (texts.length === 0) return { ok: false, latencyMs, error: `no ${type} records` };
  if (a.expect !== undefined && !texts.some((t) => t.includes(a.expect!)))
    return { ok: false, latencyMs, error: `${type} records ${texts.join(", ")} do not include ${a.expect}` };
  return { ok: true, latencyMs };
}

function checkTls(spec: CheckSpec, now: () => Date): Promise<CheckOutcome> {
  const a = spec.assertions as { minDaysValid?: number; verify?: boolean; servername?: string };
  const { host, port } = hostPort(spec.target, 443);
  const dial = dialOptions(host, monitorsAllowPrivate());
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const socket = tls.connect({
      ...dial,
      port,
      servername: a.servername ?? (net.isIP(dial.host) ? undefined : dial.host),
      rejectUnauthorized: a.verify ?? true,
      timeout: spec.timeoutMs,
    });
    const done = (outcome: CheckOutcome) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      if (!cert?.valid_to) return done({ ok: false, latencyMs: elapsed(start), error: "no certificate" });
      const error = certificateFailure(new Date(cert.valid_to), now(), a.minDaysValid);
      done(error ? { ok: false, latencyMs: elapsed(start), error } : { ok: true, latencyMs: elapsed(start) });
    });
    socket.once("timeout", () =>
      done({ ok: false, latencyMs: null, error: `timed out after ${spec.timeoutMs} ms` }),
    );
    socket.once("error", (err) => done({ ok: false, latencyMs: null, error: failureText(err) }));
  });
}

/** Why ICMP cannot be used here, when it cannot (no ping binary, or no permission to send). */
export const PING_UNAVAILABLE = "ping unavailable";

async function checkPing(spec: CheckSpec): Promise<CheckOutcome> {
  if (!/^[A-Za-z0-9.:-]+$/.test(spec.target)) return { ok: false, latencyMs: null, error: "bad host" };
  // ping resolves names itself: guarded, it is handed the address our lookup checked instead.
  const host = monitorsAllowPrivate() ? spec.target : await publicAddress(spec.target);
  const seconds = String(Math.max(1, Math.ceil(spec.timeoutMs / 1000)));
  return new Promise<CheckOutcome>((resolve) => {
    let output = "";
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn("ping", ["-n", "-c", "1", "-W", seconds, host], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      return resolve({ ok: false, latencyMs: null, error: `${PING_UNAVAILABLE}: ${(err as Error).message}` });
    }
    child.stdout?.on("data", (c) => (output += c));
    child.stderr?.on("data", (c) => (output += c));
    child.on("error", (err) =>
      resolve({ ok: false, latencyMs: null, error: `${PING_UNAVAILABLE}: ${err.message}` }),
    );
    child.on("close", (code) => {
      if (/not permitted|permission denied|socket: /i.test(output))
        return resolve({
          ok: false,
          latencyMs: null,
          error: `${PING_UNAVAILABLE}: ${output.trim().split("\n")[0]}`,
        });
      const time = /time[=<]([\d.]+) ?ms/.exec(output);
      if (code === 0) return resolve({ ok: true, latencyMs: time ? Math.round(Number(time[1])) : null });
      resolve({
        ok: false,
        latencyMs: null,
        error: output.trim().split("\n").pop() || `ping exited ${code}`,
      });
    });
  });
}

/** The public address `host` names (itself, when it is one); throws when there is none. */
function publicAddress(host: string): Promise<string> {
  const { host: canonical, lookup } = dialOptions(host, false);
  if (net.isIP(canonical)) return Promise.resolve(canonical);
  return new Promise((resolve, reject) =>
    (lookup ?? publicLookup)(canonical, {}, (err, address) =>
      err ? reject(err) : resolve(address as string),
    ),
  );
}
