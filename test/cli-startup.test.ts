/**
 * Issue 20, item 7: the CLI answers at once. `--help` loads commander and the command
 * definitions only; a command sent to a running server loads neither the server nor the
 * database; and bin/amends.js runs the compiled dist/ only while it is newer than every source.
 */
import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin/amends.js");

/**
 * Runs the CLI with a module hook that writes every module it loads (outside node:) to a file.
 * A file, written at once: the hooks run on their own thread, and what they print to stderr
 * may be lost when the command exits (Node 24 loses it after --help).
 */
async function loaded(args: string[], env: Record<string, string>) {
  const log = join(dir, `loaded-${++runs}.txt`);
  writeFileSync(log, "");
  const { stdout } = await run(process.execPath, ["--import", HOOK, BIN, ...args], {
    env: { ...process.env, ...env, AMENDS_TEST_LOADED: log },
    timeout: 60_000,
  });
  const modules = readFileSync(log, "utf8").split("\n").filter(Boolean);
  return { stdout, modules };
}
let runs = 0;

let dir: string;
let HOOK: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "amends-startup-"));
  writeFileSync(
    join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.startsWith("node:") && process.env.AMENDS_TEST_LOADED) appendFileSync(process.env.AMENDS_TEST_LOADED, r.url + "\\n");
  return r;
}\n`,
  );
  HOOK = join(dir, "register.mjs");
  writeFileSync(
    HOOK,
    `import { register } from "node:module";\nregister(${JSON.stringify(new URL(`file://${join(dir, "hooks.mjs")}`).href)});\n`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a command sent to a server must never load: the server, the database and their libraries. */
const HEAVY =
  /\/(src|dist)\/(http|storage|demo|notifications|compensation|core)\/|node_modules\/(fastify|drizzle-orm|@electric-sql|pg|pg-boss|zod)/;

describe("what a command loads", () => {
  let server: Server;
  let dataDir: string;

  beforeAll(async () => {
    // A stand-in for the server that holds the embedded database: its lock file and its API.
    server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        req.url === "/api/v1/components" && req.headers.authorization === "Bearer local-secret"
          ? JSON.stringify({
              components: [{ id: "app", name: "App", path: ["app"], status: "operational", region: null }],
            })
          : JSON.stringify({ title: "unexpected" }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    dataDir = join(dir, "data");
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, "server.json"),
      JSON.stringify({ pid: process.pid, url: `http://127.0.0.1:${port}`, secret: "local-secret" }),
    );
  });

  afterAll(() => new Promise((r) => server.close(r)));

  it("--help loads commander and the command definitions, nothing else", async () => {
    const { stdout, modules } = await loaded(["--help"], {});
    expect(stdout).toContain("Usage: amends");
    const ours = modules
      .filter((m) => !m.includes("/node_modules/"))
      .flatMap((m) => /\/(?:src|dist)\/(.*)$/.exec(m)?.[1] ?? []);
    expect(ours).toEqual([expect.stringMatching(/^cli\/main\.(ts|js)$/)]);
    expect(modules.filter((m) => HEAVY.test(m) || /node_modules\/(cli-progress|fastify)/.test(m))).toEqual(
      [],
    );
  });

  it("a command sent to the running server opens no database and loads no server", async () => {
    const { stdout, modules } = await loaded(["component", "list"], { AMENDS_DATA_DIR: dataDir });
    expect(stdout).toContain("App");
    expect(modules.filter((m) => HEAVY.test(m))).toEqual([]);
  });
});

describe("bin/amends.js", () => {
  /** A copy of bin/amends.js beside a src/ and a dist/ that each say which one ran. */
  function fixture() {
    const root = mkdtempSync(join(dir, "app-"));
    for (const d of ["bin", "src/cli", "dist/cli"]) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BIN, join(root, "bin/amends.js"));
    symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
    writeFileSync(join(root, "package.json"), '{"type":"module"}');
    writeFileSync(join(root, "src/cli/main.ts"), 'const from: string = "source";\nconsole.log(from);\n');
    writeFileSync(join(root, "dist/cli/main.js"), 'console.log("compiled");\n');
    writeFileSync(join(root, "dist/.built"), "");
    // Explicit times: file systems stamp in coarse ticks, and a test must not race them.
    const ago = (s: number) => new Date(Date.now() - s * 1000);
    const touch = (p: string, t: Date) => utimesSync(join(root, p), t, t);
    for (const p of ["src/cli/main.ts", "src/cli", "src"]) touch(p, ago(600));
    const built = (t: Date) => touch("dist/.built", t);
    const ran = async () => (await run(process.execPath, [join(root, "bin/amends.js")])).stdout.trim();
    return { root, ago, built, ran };
  }

  it("runs dist/ while it is newer than every source, and the sources once one is newer or gone", async () => {
    const { root, ago, built, ran } = fixture();
    built(ago(500));
    expect(await ran()).toBe("compiled");
    writeFileSync(join(root, "src/cli/extra.ts"), "export {};\n"); // a new or edited file
    expect(await ran()).toBe("source");
    built(new Date(Date.now() + 5000));
    expect(await ran()).toBe("compiled");
    built(ago(60));
    rmSync(join(root, "src/cli/extra.ts")); // a removed file changes its directory
    expect(await ran()).toBe("source");
    built(new Date(Date.now() + 5000));
    expect(await ran()).toBe("compiled");
    rmSync(join(root, "dist"), { recursive: true });
    expect(await ran()).toBe("source");
  });
});
