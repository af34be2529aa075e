/**
 * `amends serve` on a database without users prints a one-time link to create the owner
 * (there is no default password); the link works once, and once the owner exists no link is
 * printed again. Runs the real server on the embedded database, on a free port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serve } from "../../src/cli/serve.ts";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe("first run", () => {
  const dir = mkdtempSync(join(tmpdir(), "amends-first-run-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints a one-time owner link on an empty database, and none once the owner exists", async () => {
    const port = await freePort();
    const settings = { dataDir: dir, port, host: "127.0.0.1" };
    const lines: string[] = [];
    process.env.AMENDS_NOTIFY = "off";
    let stop = await serve(settings, { demo: false, log: (l) => lines.push(l) });
    try {
      const link = lines.map((l) => /(http:\S+\/admin\/setup\?token=\S+)/.exec(l)?.[1]).find(Boolean);
      expect(link, lines.join("\n")).toMatch(
        new RegExp(`^http://127.0.0.1:${port}/admin/setup\\?token=[\\w-]{40,}$`),
      );
      expect(lines.join("\n")).not.toMatch(/password/i);
      const token = new URL(link!).searchParams.get("token");
      const setup = (email: string) =>
        fetch(`http://127.0.0.1:${port}/api/v1/setup`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token, email, name: "Olga", password: "the owner's own password" }),
        });
      const res = await setup("olga@fleet.example");
      expect(res.status, await res.clone().text()).toBe(201);
      expect(res.headers.get("set-cookie")).toMatch(/^amends_session=.*HttpOnly/);
      expect(((await res.json()) as { user: { role: string } }).user.role).toBe("owner");
      expect((await setup("eve@fleet.example")).status).toBe(401);
    } finally {
      await stop();
    }
    lines.length = 0;
    stop = await serve(settings, { demo: false, log: (l) => lines.push(l) });
    await stop();
    expect(lines.join("\n")).not.toMatch(/admin\/setup/);
    delete process.env.AMENDS_NOTIFY;
  }, 60_000);
});
