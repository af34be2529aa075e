/**
 * How every process hears that a workspace's public page changed: a NOTIFY through the
 * database, on which each server drops its snapshot, so the next request sees the change.
 *
 * A write's answer must not come before any server could still answer from before it (a client
 * holding the answer may ask any server next). So a server's own announcements carry a tag,
 * `<origin>:<sequence>`; every other server, once it has dropped its snapshot, acknowledges the
 * tag with a NOTIFY of its own, and the writer answers once every server listening has
 * (its own echo included), or after a bounded wait when one is slow or gone.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "../storage/database.ts";

export const CHANGES_CHANNEL = "amends_changes";
/** How long a write's answer waits for the servers to acknowledge its change. */
const ACK_WAIT_MS = 1_000;

/** An untagged announcement (monitors, maintenance windows): no one waits for it. */
export async function announcePageChange(database: Database, workspaceId: string): Promise<void> {
  await database.query("select pg_notify($1, $2)", [CHANGES_CHANNEL, workspaceId]);
}

/**
 * A NOTIFY's payload: `<workspace>` or `<workspace>\n<tag>` for a change ("" after a lost
 * LISTEN: any workspace), `\n<tag>\nack` for an acknowledgement.
 */
function parseChange(payload: string): { workspaceId: string; tag?: string; ack: boolean } {
  const [workspaceId = "", tag, ack] = payload.split("\n");
  return { workspaceId, tag, ack: ack === "ack" };
}

export class PageChanges {
  private readonly origin = randomUUID();
  private sequence = 0;
  private readonly waiting = new Map<string, { left: number; done: () => void }>();

  constructor(
    private readonly database: Database,
    /** drops what the change may have made stale in this process */
    private readonly apply: (workspaceId: string | undefined) => void,
    /** whether this process's LISTEN is up (else no echo comes back) */
    private readonly listening: () => boolean,
  ) {}

  /** Every NOTIFY on CHANGES_CHANNEL. */
  heard(payload: string): void {
    const { workspaceId, tag, ack } = parseChange(payload);
    const own = tag?.startsWith(`${this.origin}:`);
    // This process applied its own changes when it made them; the echo counts as its acknowledgement.
    if (ack || own) {
      const w = this.waiting.get(tag!);
      if (w && --w.left <= 0) w.done();
      return;
    }
    this.apply(workspaceId || undefined);
    if (tag) this.notify(`\n${tag}\nack`).catch(() => {});
  }

  /**
   * Tells every server of a change this process made (and applied); resolves once every server
   * listening has dropped its snapshot, or after ACK_WAIT_MS.
   */
  async announce(workspaceId: string): Promise<void> {
    const tag = `${this.origin}:${++this.sequence}`;
    if (!this.listening()) return this.notify(`${workspaceId}\n${tag}`);
    // Sessions whose role may not read others' queries count as none: then only the echo is awaited.
    const servers = Math.max(1, await this.listeners());
    const acknowledged = new Promise<void>((done) => {
      this.waiting.set(tag, { left: servers, done });
      setTimeout(done, ACK_WAIT_MS).unref();
    });
    try {
      await this.notify(`${workspaceId}\n${tag}`);
      await acknowledged;
    } finally {
      this.waiting.delete(tag);
    }
  }

  private async notify(payload: string) {
    await this.database.query("select pg_notify($1, $2)", [CHANGES_CHANNEL, payload]);
  }

  /** The LISTEN sessions on this database: one per server (PGlite: this process alone). */
  private async listeners(): Promise<number> {
    if (this.database.kind !== "postgres") return 1;
    const [row] = await this.database.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and query = $1",
      [`listen "${CHANGES_CHANNEL}"`],
    );
    return row?.n ?? 0;
  }
}
