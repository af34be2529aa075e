#!/usr/bin/env node
/**
 * Compiles src/ to JavaScript in dist/ with tsc (types are checked by `npm run typecheck`, not
 * here), copies the files src/ reads at run time that are not TypeScript (the web-push scripts),
 * and stamps the build with the time it started. bin/amends.js runs dist/ only while that stamp is
 * newer than every file in src/. `npm ci` (prepare), `npm start` and `npm test` (npm run build) run it.
 *
 * dist/ keeps src/'s layout one level down from the root, so paths the code resolves from its own
 * module (../../drizzle, ../../console/dist, ../../examples) are the same compiled or not. It is
 * built aside and renamed into place, so a running process never sees half a build.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const dist = join(root, "dist");
const aside = join(root, `dist.${process.pid}.tmp`);
const old = join(root, `dist.${process.pid}.old`);
const started = new Date();

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  // An install without devDependencies (npm ci --omit=dev) cannot build; it keeps a dist/ it was given.
  console.warn(`typescript is not installed: dist/ ${existsSync(dist) ? "left as it is" : "not built"}`);
  process.exit(0);
}
rmSync(aside, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", aside], {
  stdio: "inherit",
});
cpSync(join(root, "src"), aside, { recursive: true, filter: (from) => !from.endsWith(".ts") });
const stamp = join(aside, ".built");
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);

// Another build may be swapping at the same moment: move whatever is in place aside and retry.
for (let attempt = 0; ; attempt++) {
  try {
    renameSync(aside, dist);
    break;
  } catch (err) {
    if (attempt >= 5 || !["ENOTEMPTY", "EEXIST"].includes(err.code)) throw err;
    try {
      renameSync(dist, old);
    } catch {}
    rmSync(old, { recursive: true, force: true });
  }
}
if (existsSync(old)) rmSync(old, { recursive: true, force: true });
