#!/usr/bin/env node
// Runs the JavaScript compiled ahead of time in dist/ (scripts/build-server.js: npm ci, npm start and
// npm test build it). While dist/ is missing or older than any file in src/ (sources being edited),
// runs the TypeScript sources through tsx instead, so a stale build never runs.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const src = fileURLToPath(new URL("../src", import.meta.url));
const stamp = fileURLToPath(new URL("../dist/.built", import.meta.url));

function compiledIsCurrent() {
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined || statSync(src).mtimeMs > built) return false;
  // Directories too: a file removed or renamed changes its directory.
  for (const name of readdirSync(src, { recursive: true }))
    if (statSync(`${src}/${name}`, { throwIfNoEntry: false })?.mtimeMs > built) return false;
  return true;
}

if (compiledIsCurrent()) {
  await import("../dist/cli/main.js");
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch (err) {
    if (err.code !== "ERR_MODULE_NOT_FOUND") throw err;
    console.error(
      "error: dist/ is missing or older than src/ and tsx is not installed: run `npm run build:server`",
    );
    process.exit(1);
  }
  tsx.register();
  await import("../src/cli/main.ts");
}
