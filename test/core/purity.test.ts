import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The domain core does no I/O: it imports only itself and a few pure libraries chosen on purpose
 * (validation, calendars, holidays).
 */
const PURE_LIBRARIES = ["zod", "date-holidays", "temporal-polyfill"];

describe("src/core is pure", () => {
  const dir = join(import.meta.dirname, "../../src/core");
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  it.each(files)("%s imports nothing with I/O", (file) => {
    const source = readFileSync(join(dir, file), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const spec of imports) {
      if (spec.startsWith(".")) {
        const depth = file.split("/").length - 1;
        const ups = spec.split("/").filter((p) => p === "..").length;
        expect(ups, `${file} imports ${spec}, outside src/core`).toBeLessThanOrEqual(depth);
      } else {
        expect(PURE_LIBRARIES, `${file} imports ${spec}`).toContain(spec);
      }
    }
    expect(source, `${file} reads the clock`).not.toMatch(/new Date\(\)|Date\.now\(\)/);
  });
});
