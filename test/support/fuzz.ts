/**
 * Fuzzing the whole HTTP surface from its own OpenAPI description (`app.httpSurface()`: the
 * API's operations and the pages', forms' and feeds'):
 * every operation, with bodies and parameters that are valid, then broken in one way each
 * (wrong types, missing and extra fields, huge and NUL-bearing strings, bad dates, deep JSON,
 * malformed JSON, wrong content types), with an all-scopes token, a token with no scope, a
 * forged one and none. Each request runs alone through app.inject and is judged on two counts:
 * no 5xx, and a request answered 4xx changed no row (a trigger on every table notes each row
 * inserted, updated or deleted). Shared by test/security/fuzz.test.ts and bench/fuzz.ts, so it
 * imports nothing from vitest.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import type { FastifyInstance, InjectOptions } from "fastify";
import type { Database } from "../../src/storage/database.ts";

type Schema = Record<string, any>;
interface Param {
  name: string;
  schema: Schema;
  required: boolean;
}
export interface Operation {
  method: string;
  /** The OpenAPI path, e.g. /api/v1/incidents/{id} */
  path: string;
  params: Param[];
  query: Param[];
  body?: Schema;
}

/** Every operation the server documents, HEAD aside. */
export async function operationsOf(app: FastifyInstance): Promise<{ ops: Operation[]; doc: Schema }> {
  const doc = app.httpSurface() as Schema;
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      if (method === "head" || method === "parameters") continue;
      const params = (op.parameters ?? []) as (Param & { in: string })[];
      ops.push({
        method: method.toUpperCase(),
        path,
        params: params.filter((p) => p.in === "path"),
        query: params.filter((p) => p.in === "query"),
        body: op.requestBody?.content?.["application/json"]?.schema,
      });
    }
  }
  return { ops, doc };
}

// ---------------------------------------------------------------------------------------------
// Values

const NUL = "\u0000";
const huge = (n: number) => "x".repeat(n);
const NASTY = [
  "",
  " ",
  NUL,
  `a${NUL}b`,
  "%00",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "' or 1=1 --",
  "\u{1F600}",
  "\uD800",
  "\u202Eevil",
  "null",
  "0",
  "-1",
  "1e309",
  "NaN",
  "__proto__",
  "constructor",
  "a".repeat(64),
  "a".repeat(65),
  huge(300),
  huge(70_000),
];
export const BAD_DATES = [
  "2026-02-30T00:00:00Z",
  "2026-13-01T00:00:00Z",
  "2026-11-22T25:00:00Z",
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00+01:00",
  "9999-12-31T23:59:59-01:00",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "2026-11-22T14:00:00",
  "2026-11-22",
  "yesterday",
  "1e10",
  "",
];
/** encodeURIComponent, with lone surrogates (which it refuses) made U+FFFD as UTF-8 would. */
const encode = (v: unknown) => encodeURIComponent(Buffer.from(String(v)).toString());
const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map((s) => `${s}${NUL}${s}`) },
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, 2 ** 53, 1e308, -1e308, 0.5),
  nastyString,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const resolve = (doc: Schema, s: Schema): Schema => {
  let out = s;
  for (let i = 0; out?.$ref && i < 10; i++) {
    const path = String(out.$ref).replace(/^#\//, "").split("/");
    out = path.reduce((o: Schema, k) => o?.[k], doc);
  }
  return out ?? {};
};

function patternArb(pattern: string, min: number, max: number): fc.Arbitrary<string> {
  try {
    return fc
      .stringMatching(new RegExp(pattern))
      .filter((s) => s.length >= min && s.length <= max && !s.includes(NUL));
  } catch {
    return fc.string({ minLength: min, maxLength: Math.min(max, 40) });
  }
}

/**
 * Fields that name something else, by the collection it is listed in: their values are often a
 * reference marker, replaced by an id that exists when the request is sent (see withKnownIds).
 */
const REFERENCES: Record<string, string> = {
  components: "/api/v1/components",
  componentIds: "/api/v1/components",
  component_id: "/api/v1/components",
  parent_id: "/api/v1/components",
  policy: "/api/v1/policies",
  incident_id: "/api/v1/incidents",
  monitorId: "/api/v1/monitors",
  monitor_id: "/api/v1/monitors",
};
const reference = (collection: string) => fc.nat().map((n) => `@ref:${collection}:${n}@`);

/** Values the schema accepts, as far as a JSON Schema can say; `key` is the property holding it. */
export function validValue(
  doc: Schema,
  raw: Schema | undefined,
  depth = 0,
  key?: string,
): fc.Arbitrary<unknown> {
  const refersTo = key && REFERENCES[key];
  const plain = plainValue(doc, raw, depth, key);
  if (!refersTo || resolve(doc, raw ?? {}).type !== "string") return plain;
  return fc.oneof({ weight: 3, arbitrary: reference(refersTo) }, { weight: 1, arbitrary: plain });
}

function plainValue(
  doc: Schema,
  raw: Schema | undefined,
  depth: number,
  key?: string,
): fc.Arbitrary<unknown> {
  const s = raw ? resolve(doc, raw) : undefined;
  if (!s || depth > 6) return fc.constant(null);
  if ("const" in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a: Schema) => validValue(doc, a, depth + 1, key)));
  if (s.allOf) return validValue(doc, Object.assign({}, ...s.allOf), depth + 1, key);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "string": {
      const min = s.minLength ?? 0;
      const max = s.maxLength ?? 40;
      if (s.format === "date-time")
        return fc
          .date({ min: new Date("2020-01-01"), max: new Date("2027-12-31"), noInvalidDate: true })
          .map((d) => d.toISOString());
      if (s.format === "date")
        return fc
          .date({ min: new Date("2020-01-01"), max: new Date("2027-12-31"), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10));
      if (s.format === "email") return fc.emailAddress().filter((e) => e.length <= max);
      if (s.format === "uri" || s.format === "url")
        return fc.constantFrom("https://status.example.invalid/hook", "https://hooks.example.invalid/x?y=1");
      if (s.pattern) return patternArb(s.pattern, min, max);
      return fc.string({ minLength: min, maxLength: Math.min(max, Math.max(min, 40)) });
    }
    case "integer":
    case "number": {
      const lo = Math.max(
        s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000),
        -1e6,
      );
      const hi = Math.min(
        s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1e6),
        1e6,
      );
      // The schema's own edges too, where a column narrower than the schema overflows: its
      // minimum and maximum, or past a 32-bit column's range when it names none.
      const edges = [
        s.minimum ?? -(2 ** 31) - 1,
        s.maximum ?? 2 ** 31,
        ...(s.maximum === undefined ? [Number.MAX_SAFE_INTEGER] : []),
      ].filter((v) => !(s.exclusiveMinimum >= v) && !(s.exclusiveMaximum <= v));
      const within =
        type === "integer"
          ? fc.integer({ min: Math.ceil(lo), max: Math.max(Math.ceil(lo), Math.floor(hi)) })
          : fc.double({ min: lo, max: Math.max(lo, hi), noNaN: true });
      return edges.length ? fc.oneof({ arbitrary: within, weight: 4 }, fc.constantFrom(...edges)) : within;
    }
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(validValue(doc, s.items, depth + 1, key), {
        minLength: Math.min(s.minItems ?? 0, 3),
        maxLength: Math.max(Math.min(s.maxItems ?? 3, 3), Math.min(s.minItems ?? 0, 3)),
      });
    case "object": {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const keys = Object.keys(props);
      const record = fc.record(
        // An object's own `id` inside a referring list (`components: [{id, status}]`) refers too.
        Object.fromEntries(
          keys.map((k) => [k, validValue(doc, props[k], depth + 1, k === "id" && key ? key : k)]),
        ),
        { requiredKeys: (s.required ?? []).filter((k: string) => k in props) },
      );
      if (keys.length === 0 && s.additionalProperties && typeof s.additionalProperties === "object")
        return fc.dictionary(
          s.propertyNames?.pattern ? patternArb(s.propertyNames.pattern, 1, 20) : fc.string({ maxLength: 8 }),
          validValue(doc, s.additionalProperties, depth + 1),
          { maxKeys: 2 },
        );
      return record;
    }
    default:
      return anyValue;
  }
}

type Mutation = "none" | "wrongType" | "dropKey" | "extraKey" | "huge" | "nul" | "badDate" | "nullify";
const MUTATIONS = fc.constantFrom<Mutation>(
  "none",
  "none",
  "none",
  "wrongType",
  "dropKey",
  "extraKey",
  "huge",
  "nul",
  "badDate",
  "nullify",
);

/** Every [path, value] inside `v`, the root first. */
function places(v: unknown, path: (string | number)[] = [], out: [(string | number)[], unknown][] = []) {
  out.push([path, v]);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) places(x, [...path, i], out);
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) places(x, [...path, k], out);
  return out;
}
function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as typeof node;
  node[path.at(-1)!] = value;
  return root;
}
const ISO_LIKE = /^\d{4}-\d\d-\d\d/;

function mutate(value: unknown, how: Mutation, pick: number, wrong: unknown, bigSize: number): unknown {
  if (how === "none") return value;
  const v = structuredClone(value);
  const all = places(v);
  const choose = <T>(list: T[]) => list[pick % list.length];
  const objects = all.filter(([, x]) => x && typeof x === "object" && !Array.isArray(x));
  const strings = all.filter(([, x]) => typeof x === "string");
  switch (how) {
    case "wrongType":
      return setAt(v, choose(all)![0], wrong);
    case "nullify":
      return setAt(v, choose(all)![0], null);
    case "dropKey": {
      const target = choose(objects);
      if (!target) return wrong;
      const obj = target[1] as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (keys.length) delete obj[keys[pick % keys.length]!];
      return v;
    }
    case "extraKey": {
      const target = choose(objects);
      if (!target) return v;
      (target[1] as Record<string, unknown>)[`extra_${pick % 7}`] = wrong;
      return v;
    }
    case "huge":
    case "nul": {
      const target = choose(strings);
      const make = (s: string) => (how === "huge" ? huge(bigSize) : `${s.slice(0, 3)}${NUL}${s.slice(3)}`);
      if (target) return setAt(v, target[0], make(target[1] as string));
      const obj = choose(objects);
      if (obj) (obj[1] as Record<string, unknown>).name = make("name");
      return obj ? v : make("x");
    }
    case "badDate": {
      const dates = strings.filter(([, x]) => ISO_LIKE.test(x as string));
      const target = choose(dates.length ? dates : strings);
      return target ? setAt(v, target[0], BAD_DATES[pick % BAD_DATES.length]) : v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

export type Auth = "all" | "noScope" | "forged" | "none";
/** What to send, in terms resolved when it is sent (ids that exist by then). */
export interface RequestPlan {
  op: number;
  auth: Auth;
  /** Per path parameter: an index into the ids known for the route, or a literal segment. */
  params: ({ known: number } | { raw: string })[];
  query: string;
  body:
    | { kind: "none" }
    | { kind: "json"; value: unknown; contentType?: string }
    | { kind: "raw"; text: string; contentType?: string };
}

const DEEP = [65, 1_000, 100_000].flatMap((n) => [
  "[".repeat(n) + "]".repeat(n),
  `${'{"a":'.repeat(n)}1${"}".repeat(n)}`,
  `{"rules":${"[".repeat(n)}${"]".repeat(n)},"constructor":{"prototype":{}}}`,
]);
const BAD_JSON = [
  "",
  "{",
  '{"a":',
  "{'a':1}",
  "null",
  "[]",
  "1",
  '"text"',
  NUL,
  `{"a":"${NUL}"}`,
  '{"a":"\\u0000"}',
  '\uFEFF{"a":1}',
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"a":1,"a":2}',
  `{"n":${"9".repeat(400)}}`,
];
const WRONG_TYPES = [
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/json; charset=latin1",
  "application/yaml",
  "text/csv",
  "application/x-ndjson",
  "application/octet-stream",
  "",
];
/** Bodies for operations whose input is not JSON Schema: YAML policies, CSV, NDJSON, forms. */
const TEXT_BODIES: [string, string][] = [
  ["application/yaml", "name: x\nrules: []\n"],
  ["application/yaml", `a: &a ["x","x","x","x","x","x","x","x","x"]\n${bomb()}`],
  ["application/yaml", `name: "a${NUL}b"\n`],
  ["application/yaml", "rules: [\n"],
  ["text/csv", "id,home_region,plan,monthly_fee,currency\nc1,milan,basic,1000,EUR\n"],
  ["text/csv", `id,home_region,plan,monthly_fee,currency\nc${NUL}1,milan,basic,1000,EUR\n`],
  ["text/csv", `id,name\n"unterminated,x\n`],
  ["text/csv", `id,started_at\ns1,${BAD_DATES[0]}\n`],
  [
    "application/x-ndjson",
    '{"id":"c2","home_region":"rome","plan":"basic","monthly_fee":1,"currency":"EUR"}\n{',
  ],
  ["application/x-ndjson", `{"id":"c${NUL}3"}\n`],
  ["application/x-www-form-urlencoded", "email=a%40example.invalid&channel=email"],
  ["application/x-www-form-urlencoded", "email=a%00b&password=%00&x=%zz"],
  ["application/x-www-form-urlencoded", "a[b][c][d][e]=1&a=2&__proto__[x]=1"],
  ["application/x-www-form-urlencoded", `email=${"a".repeat(100_000)}`],
  ["text/plain", "hello"],
];
function bomb(): string {
  const lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++)
    lines.push(
      `b${i}: &b${i} [${Array(9)
        .fill(`*b${i - 1}`)
        .join(", ")}]`,
    );
  return lines.join("\n");
}
const RAW_SEGMENTS = ["%00", "a%00b", "%zz", "%E0%A4%A", "..", "%2e%2e", "a%2Fb", "%20", "x".repeat(2_000)];
const RAW_QUERIES = [
  "q=%00",
  "limit=%00",
  "x=%zz",
  "limit=-1",
  "limit=1e309",
  "cursor=0",
  "a=1&a=2",
  "__proto__=1",
];

/** `arb` one time in `n`, undefined otherwise. */
const sometimes = <T>(arb: fc.Arbitrary<T>, n: number) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

function planArb(ops: Operation[], doc: Schema): fc.Arbitrary<RequestPlan> {
  return fc.integer({ min: 0, max: ops.length - 1 }).chain((opIndex) => {
    const op = ops[opIndex]!;
    const param = fc.oneof(
      { weight: 6, arbitrary: fc.nat().map((known) => ({ known })) },
      { weight: 1, arbitrary: nastyString.map((s) => ({ raw: encode(s.slice(0, 2_000)) })) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ raw })) },
    );
    const queryPart = (p: Param) =>
      fc
        .oneof(
          { weight: 3, arbitrary: validValue(doc, p.schema) },
          { weight: 1, arbitrary: nastyString },
          { weight: 1, arbitrary: fc.constantFrom(...BAD_DATES) },
        )
        .map((v) => `${encode(p.name)}=${encode(v)}`);
    const query = fc
      .tuple(
        fc.tuple(...op.query.map((p) => fc.option(queryPart(p), { nil: undefined }))),
        sometimes(fc.constantFrom(...RAW_QUERIES), 8),
      )
      .map(([parts, extra]) => [...parts, extra].filter(Boolean).join("&"));
    const jsonBody = fc
      .tuple(
        op.body ? validValue(doc, op.body) : anyValue,
        MUTATIONS,
        fc.nat(),
        anyValue,
        fc.constantFrom(300, 70_000, 1_100_000),
        sometimes(fc.constantFrom(...WRONG_TYPES), 8),
      )
      .map(([value, how, pick, wrong, size, contentType]) => ({
        kind: "json" as const,
        value: mutate(value, how, pick, wrong, size),
        contentType,
      }));
    const rawBody = fc.oneof(
      fc.constantFrom(...DEEP, ...BAD_JSON).map((text) => ({ kind: "raw" as const, text })),
      fc
        .constantFrom(...TEXT_BODIES)
        .map(([contentType, text]) => ({ kind: "raw" as const, text, contentType })),
    );
    const takesBody = op.method !== "GET" && op.method !== "DELETE";
    const body: fc.Arbitrary<RequestPlan["body"]> = takesBody
      ? fc.oneof({ weight: 6, arbitrary: jsonBody }, { weight: 2, arbitrary: rawBody })
      : fc.oneof(
          { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
          { weight: 1, arbitrary: jsonBody },
        );
    return fc.record({
      op: fc.constant(opIndex),
      auth: fc.constantFrom<Auth>("all", "all", "all", "all", "all", "all", "noScope", "forged", "none"),
      params: fc.tuple(...op.params.map(() => param)),
      query,
      body,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Changes

/**
 * Tables whose rows change by design on requests that are refused:
 * - rate_limit_hits counts attempts at the limited routes (sign-in, setup, invitations), and
 *   an attempt refused with 401 or 429 is exactly what it must count.
 * Columns: api_tokens.last_used_at, sessions.last_seen_at and probes.last_seen_at are touched by authentication,
 * which runs (and succeeds) before the input is looked at.
 */
const BOOKKEEPING_TABLES = new Set(["rate_limit_hits"]);
const BOOKKEEPING_COLUMNS: Record<string, string[]> = {
  api_tokens: ["last_used_at"],
  sessions: ["last_seen_at"],
  probes: ["last_seen_at"],
};

/** A trigger on every table noting each row that really changed, into fuzz_changes. */
export async function installChangeLog(database: Database): Promise<void> {
  await database.exec(`
    create table if not exists fuzz_changes (tbl text not null, op text not null);
    create or replace function fuzz_note() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and (to_jsonb(old) - tg_argv) = (to_jsonb(new) - tg_argv) then
        return null;
      end if;
      insert into fuzz_changes values (tg_table_schema || '.' || tg_table_name, tg_op);
      return null;
    end $$;`);
  const tables = await database.query<{ schema: string; name: string }>(
    `select table_schema as schema, table_name as name from information_schema.tables
      where table_type = 'BASE TABLE' and table_name <> 'fuzz_changes'
        and table_schema not in ('pg_catalog', 'information_schema', 'drizzle')`,
  );
  for (const t of tables) {
    if (BOOKKEEPING_TABLES.has(t.name)) continue;
    const ignored = (BOOKKEEPING_COLUMNS[t.name] ?? []).map((c) => `'${c}'`).join(", ");
    await database.exec(
      `create trigger fuzz_note after insert or update or delete on "${t.schema}"."${t.name}"
         for each row execute function fuzz_note(${ignored})`,
    );
  }
}

/** The rows changed since the last call, by table and operation; clears the log. */
export async function takeChanges(database: Database): Promise<string[]> {
  const rows = await database.query<{ tbl: string; op: string; n: number }>(
    "select tbl, op, count(*)::int as n from fuzz_changes group by tbl, op order by tbl, op",
  );
  if (rows.length > 0) await database.exec("delete from fuzz_changes");
  return rows.map((r) => `${r.op} ${r.tbl} ×${r.n}`);
}

// ---------------------------------------------------------------------------------------------
// Running

export interface FuzzTarget {
  app: FastifyInstance;
  database: Database;
  /** Bearer secrets: every scope, no scope; the probe's own token for /probe routes. */
  tokens: { all: string; noScope: string; probe: string };
  /** Never named in a path: the fuzz's own tokens (revoking them would end the run's reach). */
  protectedIds: Set<string>;
}

export interface Finding {
  request: string;
  status: number;
  answer: string;
  changes?: string[];
}
export interface FuzzReport {
  requests: number;
  statuses: Map<number, number>;
  /** Per operation ("PATCH /api/v1/incidents/{id}"): how many requests got a 2xx, out of how many. */
  reach: Map<string, { ok: number; sent: number }>;
  serverErrors: Finding[];
  changedOn4xx: Finding[];
  /** /api answers in 4xx that are not application/problem+json */
  notProblems: Finding[];
}

const short = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

/** The ids of each collection, by the collection's path (/api/v1/incidents), listed with the all-scopes token. */
async function knownIds(t: FuzzTarget, ops: Operation[]): Promise<Map<string, string[]>> {
  const ids = new Map<string, string[]>();
  for (const op of ops) {
    if (op.method !== "GET" || op.params.length > 0 || !op.path.startsWith("/api/v1/")) continue;
    const res = await t.app.inject({ url: op.path, headers: { authorization: `Bearer ${t.tokens.all}` } });
    if (res.statusCode !== 200) continue;
    let json: unknown;
    try {
      json = res.json();
    } catch {
      continue;
    }
    const list = Array.isArray(json)
      ? json
      : Object.values(json as object).find((v): v is unknown[] => Array.isArray(v));
    const found = (list ?? [])
      .map((x) => (x as { id?: unknown; name?: unknown }).id ?? (x as { name?: unknown }).name)
      .filter((x): x is string => typeof x === "string" && !t.protectedIds.has(x));
    if (found.length) ids.set(op.path, found);
  }
  return ids;
}

/**
 * Ids that fit the parameter `name` whose path up to it is `before`: those of the collection
 * listed at `before` (or at /api/v1 plus its last static part: /p/{page}/incidents → /api/v1/incidents),
 * else of every collection.
 */
function idsFor(
  ids: Map<string, string[]>,
  before: string,
  name: string,
  index: number,
  extra: Record<string, string[]>,
) {
  const tail = before.slice(before.lastIndexOf("}") + 1);
  const own = extra[name] ?? ids.get(before) ?? ids.get(`/api/v1${tail}`) ?? [...ids.values()].flat();
  return own[index % Math.max(own.length, 1)] ?? "x";
}

/** Reference markers (`@ref:/api/v1/components:7@`) replaced by ids that exist now. */
const withKnownIds = (text: string, ids: Map<string, string[]>) =>
  text.replace(/@ref:([^:@]+):(\d+)@/g, (_, collection: string, n: string) => {
    const list = ids.get(collection) ?? ["none"];
    return JSON.stringify(list[Number(n) % list.length]).slice(1, -1);
  });

export function buildRequest(
  t: FuzzTarget,
  op: Operation,
  plan: RequestPlan,
  ids: Map<string, string[]>,
  extraIds: Record<string, string[]>,
): InjectOptions & { url: string } {
  let url = op.path;
  const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  names.forEach((name, i) => {
    const p = plan.params[i] ?? { known: 0 };
    const before = op.path.slice(0, op.path.indexOf(`/{${name}}`));
    const value = "known" in p ? encode(idsFor(ids, before, name, p.known, extraIds)) : p.raw || "x";
    url = url.replace(`{${name}}`, value);
  });
  if (plan.query) url += `?${plan.query}`;
  const headers: Record<string, string> = {};
  const secret =
    plan.auth === "all"
      ? op.path.startsWith("/api/v1/probe/")
        ? t.tokens.probe
        : t.tokens.all
      : plan.auth === "noScope"
        ? t.tokens.noScope
        : plan.auth === "forged"
          ? "amd_forged-token-that-was-never-issued"
          : undefined;
  if (secret) headers.authorization = `Bearer ${secret}`;
  let payload: string | undefined;
  if (plan.body.kind === "json") {
    payload = JSON.stringify(plan.body.value) ?? "null";
    headers["content-type"] = plan.body.contentType ?? "application/json";
  } else if (plan.body.kind === "raw") {
    payload = plan.body.text;
    headers["content-type"] = plan.body.contentType ?? "application/json";
  }
  if (headers["content-type"] === "") delete headers["content-type"];
  if (payload !== undefined) payload = withKnownIds(payload, ids);
  return { method: op.method as "GET", url, headers, ...(payload !== undefined && { payload }) };
}

const describeRequest = (r: InjectOptions & { url: string }) =>
  `${r.method} ${short(r.url, 200)} [${(r.headers as Record<string, string>)["content-type"] ?? "-"}] ` +
  `${(r.headers as Record<string, string>).authorization ? "auth" : "no-auth"} ${short(String(r.payload ?? ""), 200)}`;

export interface FuzzOptions {
  requests: number;
  seed: number;
  /** Check for changed rows after each 4xx (needs installChangeLog). */
  checkChanges?: boolean;
  /** Extra ids for path parameters by name (e.g. page slugs, locale codes). */
  extraIds?: Record<string, string[]>;
  onProgress?: (done: number) => void;
  /** Sees every exchange: for tracing one operation while improving the generators. */
  onExchange?: (operation: string, request: string, status: number, answer: string) => void;
}

export async function fuzz(t: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const { ops, doc } = await operationsOf(t.app);
  const plans = fc.sample(planArb(ops, doc), { numRuns: options.requests, seed: options.seed });
  const report: FuzzReport = {
    requests: 0,
    statuses: new Map(),
    reach: new Map(ops.map((op) => [`${op.method} ${op.path}`, { ok: 0, sent: 0 }])),
    serverErrors: [],
    changedOn4xx: [],
    notProblems: [],
  };
  let ids = await knownIds(t, ops);
  if (options.checkChanges) await takeChanges(t.database);
  for (const [i, plan] of plans.entries()) {
    // New things get made and old ones deleted as we go: look again now and then.
    if (i % 200 === 199) ids = await knownIds(t, ops);
    const op = ops[plan.op]!;
    const request = buildRequest(t, op, plan, ids, options.extraIds ?? {});
    const res = await t.app.inject(request);
    report.requests++;
    report.statuses.set(res.statusCode, (report.statuses.get(res.statusCode) ?? 0) + 1);
    const reach = report.reach.get(`${op.method} ${op.path}`)!;
    reach.sent++;
    if (res.statusCode < 300) reach.ok++;
    const finding = () => ({
      request: describeRequest(request),
      status: res.statusCode,
      answer: short(res.body),
    });
    if (res.statusCode >= 500) report.serverErrors.push(finding());
    if (options.checkChanges) {
      const changes = await takeChanges(t.database);
      if (res.statusCode >= 400 && res.statusCode < 500 && changes.length > 0)
        report.changedOn4xx.push({ ...finding(), changes });
    }
    if (
      res.statusCode >= 400 &&
      res.statusCode < 500 &&
      request.url.startsWith("/api/") &&
      !String(res.headers["content-type"]).startsWith("application/problem+json")
    )
      report.notProblems.push(finding());
    options.onExchange?.(
      `${op.method} ${op.path}`,
      describeRequest(request),
      res.statusCode,
      short(res.body),
    );
    options.onProgress?.(i + 1);
  }
  return report;
}

/** `200 ×812 · 400 ×1,503 · …` */
export const histogram = (statuses: Map<number, number>) =>
  [...statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s} ×${n.toLocaleString("en")}`)
    .join(" · ");

/** One line per distinct finding (same status and route), with a count. */
export function summarise(findings: Finding[], limit = 30): string {
  const groups = new Map<string, { n: number; first: Finding }>();
  for (const f of findings) {
    const key = `${f.status} ${f.request.split(" ").slice(0, 2).join(" ").replace(/\?.*/, "")} ${f.answer.slice(0, 80)}`;
    const key2 = createHash("sha1").update(key).digest("hex");
    const g = groups.get(key2);
    if (g) g.n++;
    else groups.set(key2, { n: 1, first: f });
  }
  return [...groups.values()]
    .slice(0, limit)
    .map(
      ({ n, first }) =>
        `×${n} ${first.status} ${first.request}\n    → ${first.answer}${first.changes ? `\n    changed: ${first.changes.join(", ")}` : ""}`,
    )
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// A workspace to fuzz

/**
 * A server on `database` with one workspace holding a little of everything (components, open
 * and resolved incidents, customers, a policy and a compensation run, a maintenance window, a
 * monitor, a probe, a status page, a user), tokens with every scope and with none, and the
 * change log installed.
 */
export async function prepareFuzzTarget(
  database: Database,
  build: (database: Database) => Promise<FastifyInstance>,
): Promise<FuzzTarget & { extraIds: Record<string, string[]> }> {
  const { createToken } = await import("../../src/tokens/store.ts");
  const { createWorkspace } = await import("../../src/workspaces/store.ts");
  const ws = await createWorkspace(database.db, {
    slug: "fleet",
    name: "The Fleet",
    timeZone: "Europe/Rome",
  });
  const all = await createToken(database.db, { workspaceId: ws.id, name: "all" });
  const noScope = await createToken(database.db, { workspaceId: ws.id, name: "none", scopes: [] });
  const app = await build(database);
  await app.ready();
  const call = async (method: string, url: string, payload?: unknown, contentType = "application/json") => {
    const res = await app.inject({
      method: method as "POST",
      url,
      headers: { authorization: `Bearer ${all.secret}`, "content-type": contentType },
      ...(payload !== undefined && {
        payload: typeof payload === "string" ? payload : JSON.stringify(payload),
      }),
    });
    if (res.statusCode >= 300) throw new Error(`seeding ${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  await call("POST", "/api/v1/components", { id: "svc", name: "Car sharing" });
  await call("POST", "/api/v1/components", {
    id: "end-rental",
    name: "End rental",
    parent_id: "svc",
    region: "milan",
  });
  await call("POST", "/api/v1/incidents", {
    id: "INC-1",
    title: "Rentals cannot be ended",
    body: "Leave the car parked.",
    components: [{ id: "end-rental", status: "major_outage" }],
  });
  await call("POST", "/api/v1/incidents", {
    id: "INC-2",
    title: "Payments failed",
    body: "Cards were declined.",
    started_at: dayAgo,
    components: [{ id: "end-rental", status: "partial_outage" }],
  });
  await call("POST", "/api/v1/incidents/INC-2/resolve", { body: "Fixed." });
  await call("POST", "/api/v1/import/customers", [
    {
      id: "c1",
      home_region: "milan",
      plan: "basic",
      monthly_fee: 1000,
      currency: "EUR",
      email: "c1@example.com",
    },
  ]);
  await call("POST", "/api/v1/import/sessions", [
    {
      id: "s1",
      customer_id: "c1",
      kind: "rental",
      component_id: "end-rental",
      region: "milan",
      started_at: dayAgo,
      ended_at: hourAgo,
      charge: 1200,
      currency: "EUR",
    },
  ]);
  const { readFileSync } = await import("node:fs");
  const policy = await call("POST", "/api/v1/policies", {
    yaml: readFileSync(
      new URL("../../examples/policies/fleet-end-rental-outage.yaml", import.meta.url),
      "utf8",
    ),
  });
  await call("POST", "/api/v1/incidents/INC-2/compensation-runs", { policy: policy.id });
  await call("POST", "/api/v1/maintenances", {
    id: "MNT-1",
    title: "Database upgrade",
    body: "Rentals may be slow.",
    components: ["end-rental"],
    starts_at: tomorrow,
    ends_at: new Date(Date.now() + 90_000_000).toISOString(),
  });
  await call("POST", "/api/v1/monitors", { id: "mon-1", kind: "heartbeat", name: "Nightly job" });
  const probe = await call("POST", "/api/v1/probes", { name: "Probe", location: "eu-west" });
  await call("POST", "/api/v1/status-pages", { id: "ops", name: "Operations", components: ["svc"] });
  await call("POST", "/api/v1/users", { email: "ops@example.com", name: "Ops", role: "responder" });
  await installChangeLog(database);
  return {
    app,
    database,
    tokens: { all: all.secret, noScope: noScope.secret, probe: probe.token },
    protectedIds: new Set([all.token.id, noScope.token.id]),
    extraIds: {
      page: ["ops", "fleet"],
      lang: ["it", "en", "xx"],
      kind: ["customers", "sessions", "charges"],
    },
  };
}
