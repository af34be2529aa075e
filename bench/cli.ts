/**
 * How fast the `amends` command answers: `amends --help`, and `amends component list` sent to a
 * running server (the embedded database's server, holding the demo workspace), beside `node -e 0`,
 * the floor: Node starting and exiting. Each is the median of --runs runs, taken in turn (floor,
 * help, list, floor, …) so that load from other work falls on all of them alike, with its ratio
 * to the floor and its peak memory (GNU time's maximum RSS, when /usr/bin/time is there).
 *
 * It measures a copy of the working tree in a temporary directory, built there with
 * scripts/build-server.js, so that edits made while it runs cannot send bin/amends.js back to
 * the sources. Then the same two commands with dist/ older than src/, so through tsx (the way
 * everything ran before the build step), and `component list` with no server running, when the
 * command opens the database itself (fewer runs: it takes seconds).
 *
 * With --before REV, the same two commands from that revision (git archive, in another temporary
 * directory) against the same server: before the build step, f9bd88a^.
 *
 *   npx tsx bench/cli.ts [--runs 15] [--no-server-runs 3] [--before f9bd88a^]
 *
 * Targets (issue 20, item 7): `--help` <= 0.3 s, `component list` against a running server
 * <= 0.5 s on the 2-core development machine. Prints figures; never fails on a target.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "15" },
    "no-server-runs": { type: "string", default: "3" },
    before: { type: "string" },
  },
});
const RUNS = Number(args.runs);
const NO_SERVER_RUNS = Number(args["no-server-runs"]);
const ROOT = join(import.meta.dirname, "..");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

interface Run {
  ms: number;
  rssMb?: number;
}

/** One command to its exit: wall time from spawn to exit, and peak RSS through GNU time. */
function once(argv: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  const [file, ...rest] = TIME
    ? [TIME, "-f", "RSS %M", process.execPath, ...argv]
    : [process.execPath, ...argv];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file!, rest, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`${argv.join(" ")} exited ${code}: ${err || out}`));
      const rss = /RSS (\d+)/.exec(err)?.[1];
      resolve({ ms, ...(rss && { rssMb: Number(rss) / 1024 }) });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs each case in turn, `runs` times over; the median of each. */
async function measure(cases: Record<string, () => Promise<Run>>, runs: number) {
  const results: Record<string, Run[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < runs; i++)
    for (const [name, run] of Object.entries(cases)) results[name]!.push(await run());
  return Object.fromEntries(
    Object.entries(results).map(([name, rs]) => [
      name,
      {
        ms: median(rs.map((r) => r.ms)),
        min: Math.min(...rs.map((r) => r.ms)),
        max: Math.max(...rs.map((r) => r.ms)),
        rssMb: rs[0]?.rssMb === undefined ? undefined : median(rs.map((r) => r.rssMb!)),
      },
    ]),
  );
}

const line = (name: string, r: { ms: number; min: number; max: number; rssMb?: number }, floor?: number) =>
  `  ${name.padEnd(52)} ${(r.ms / 1000).toFixed(3)} s  (${(r.min / 1000).toFixed(3)}–${(r.max / 1000).toFixed(3)})` +
  `${floor ? `  ${(r.ms / floor).toFixed(1)}× floor` : ""}${r.rssMb === undefined ? "" : `  ${r.rssMb.toFixed(0)} MB`}`;

// ---- A built copy of the working tree ----------------------------------------------------------------

const copy = mkdtempSync(join(tmpdir(), "amends-bench-cli-"));
for (const entry of [
  "src",
  "bin",
  "scripts",
  "drizzle",
  "examples",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
])
  cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
if (existsSync(join(ROOT, "console/dist"))) symlinkSync(join(ROOT, "console"), join(copy, "console"));
const built = Date.now();
await once([join(copy, "scripts/build-server.js")], {}, copy);
console.log(`built ${copy}/dist in ${((Date.now() - built) / 1000).toFixed(1)} s`);

/** An older revision beside it, for --before: its own bin/amends.js, this node_modules. */
const before = args.before ? mkdtempSync(join(tmpdir(), "amends-bench-cli-before-")) : undefined;
if (before) {
  await new Promise<void>((resolve, reject) => {
    const archive = spawn("git", ["archive", "--format=tar", args.before!], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const tar = spawn("tar", ["-x", "-C", before], { stdio: ["pipe", "inherit", "inherit"] });
    archive.stdout.pipe(tar.stdin);
    tar.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`git archive ${args.before} failed`)),
    );
  });
  symlinkSync(join(ROOT, "node_modules"), join(before, "node_modules"));
}

const bin = join(copy, "bin/amends.js");
const data = join(copy, "data");
const free = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** `amends serve --demo` from the copy, as the README starts it; resolves once it listens. */
async function serve(): Promise<ChildProcess> {
  const port = await free();
  const child = spawn(process.execPath, [bin, "serve", "--demo", "--port", String(port)], {
    cwd: copy,
    env: { ...process.env, AMENDS_DATA_DIR: data },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      output += d;
      if (output.includes("Press Ctrl+C")) resolve();
    });
    child.stderr!.on("data", (d) => (output += d));
    child.on("exit", (code) => reject(new Error(`amends serve exited (${code}): ${output}`)));
  });
  return child;
}
const stop = (child: ChildProcess) =>
  new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });

const env = { AMENDS_DATA_DIR: data };
const cases = {
  floor: () => once(["-e", "0"]),
  help: () => once([bin, "--help"], env, copy),
  list: () => once([bin, "component", "list"], env, copy),
};

type Figures = Awaited<ReturnType<typeof measure>>;
const print = (title: string, f: Figures) => {
  console.log(title);
  console.log(line("node -e 0 (the floor)", f.floor!));
  if (f.help) console.log(line("amends --help", f.help, f.floor!.ms));
  console.log(line("amends component list (to the running server)", f.list!, f.floor!.ms));
};
const FEWER = Math.min(RUNS, 7);

try {
  const server = await serve();
  let compiled: Figures;
  let sources: Figures;
  let then: Figures | undefined;
  try {
    await cases.list(); // the server's first answer builds its caches; not what is measured
    compiled = await measure(cases, RUNS);
    // dist/ older than the sources: bin/amends.js runs them through tsx, as before the build step.
    const stamp = join(copy, "dist/.built");
    const { mtime } = statSync(stamp);
    utimesSync(stamp, new Date(0), new Date(0));
    sources = await measure(cases, FEWER);
    utimesSync(stamp, mtime, mtime);
    if (before) {
      const old = join(before, "bin/amends.js");
      then = await measure(
        {
          floor: cases.floor,
          help: () => once([old, "--help"], env, before),
          list: () => once([old, "component", "list"], env, before),
        },
        FEWER,
      );
    }
  } finally {
    await stop(server);
  }
  print(`Node ${process.version}, ${RUNS} runs each, medians (min–max), peak RSS`, compiled);
  print(`From the sources through tsx (dist/ older than src/), ${FEWER} runs:`, sources);
  if (then) print(`${args.before}, ${FEWER} runs:`, then);

  // No server: the command opens the embedded database itself.
  const alone = await measure({ floor: cases.floor, list: cases.list }, NO_SERVER_RUNS);
  console.log(`No server running, ${NO_SERVER_RUNS} runs (the command opens the embedded database):`);
  console.log(line("amends component list", alone.list!, alone.floor!.ms));
  console.log(
    `Targets: --help <= 0.3 s (${compiled.help!.ms <= 300 ? "met" : "not met"}), component list to a running server <= 0.5 s (${compiled.list!.ms <= 500 ? "met" : "not met"})`,
  );
} finally {
  rmSync(copy, { recursive: true, force: true });
  if (before) rmSync(before, { recursive: true, force: true });
}
