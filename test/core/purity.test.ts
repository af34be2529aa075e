import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** The domain core does no I/O: it may import only itself (and pure libraries added on purpose). */
describe("src/core is pure", () => {
  const dir = join(import.meta.dirname, "../../src/core");
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  it.each(files)("%s imports nothing with I/O", (file) => {
    const source = readFileSync(join(dir, file), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const spec of imports) {
      expect(
        spec.startsWith("./") || spec.startsWith("../") ? spec : "external",
        `${file} imports ${spec}`,
      ).not.toMatch(/^(external|\.\.\/\.\.)/);
      expect(spec, `${file} imports ${spec}`).not.toMatch(/storage|http|cli|node:/);
    }
  });
});
