/**
 * The audit log: who (actor), when, what (action on a target), before and after. Rows are
 * only ever inserted; a trigger in the database refuses UPDATE, DELETE and TRUNCATE.
 */
import { and, desc, eq, gte, ilike, like, lt, or, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../http/auth.ts";
import type { Db } from "../storage/database.ts";
import { auditLog } from "../storage/schema.ts";

export interface AuditEntry {
  workspaceId: string;
  actor: Actor;
  action: string;
  target: { type: string; id: string | null };
  before?: unknown;
  after?: unknown;
  ip?: string | null;
  at: Date;
}

const SECRET_KEY = /secret|password|^token$|token_hash|otpauth|csrf|invite_?url/i;
const MAX_JSON = 64 * 1024;

/** Copies a document with secrets blanked, so the log never holds a credential. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEY.test(k) && v != null ? "[redacted]" : redact(v);
    return out;
  }
  return value;
}

function bounded(value: unknown): unknown {
  if (value === undefined) return null;
  const clean = redact(value);
  const text = JSON.stringify(clean);
  if (text && text.length > MAX_JSON) return { truncated: true, bytes: text.length };
  return clean ?? null;
}

export async function recordAudit(db: Db, e: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    workspaceId: e.workspaceId,
    at: e.at,
    actorKind: e.actor.kind,
    actorId: e.actor.id,
    actorName: e.actor.name,
    action: e.action,
    targetType: e.target.type,
    targetId: e.target.id,
    before: bounded(e.before),
    after: bounded(e.after),
    ip: e.ip ?? null,
  });
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  from?: Date;
  to?: Date;
  q?: string;
  cursor?: number;
  limit: number;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Newest first; `nextCursor` continues below the last id returned. */
export async function searchAudit(db: Db, workspaceId: string, query: AuditQuery) {
  const where: (SQL | undefined)[] = [eq(auditLog.workspaceId, workspaceId)];
  if (query.actor) {
    const [kind, id] = query.actor.includes(":") ? query.actor.split(":", 2) : [undefined, query.actor];
    where.push(
      kind
        ? and(eq(auditLog.actorKind, kind), eq(auditLog.actorId, id!))
        : or(eq(auditLog.actorId, id!), ilike(auditLog.actorName, escapeLike(id!))),
    );
  }
  if (query.action)
    where.push(
      query.action.endsWith(".") || query.action.endsWith("*")
        ? like(auditLog.action, `${escapeLike(query.action.replace(/\*$/, ""))}%`)
        : eq(auditLog.action, query.action),
    );
  if (query.target) {
    const [type, id] = query.target.split(":", 2);
    where.push(eq(auditLog.targetType, type!));
    if (id) where.push(eq(auditLog.targetId, id));
  }
  if (query.from) where.push(gte(auditLog.at, query.from));
  if (query.to) where.push(lt(auditLog.at, query.to));
  if (query.cursor) where.push(lt(auditLog.id, query.cursor));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    where.push(
      or(
        ilike(auditLog.action, pattern),
        ilike(auditLog.actorName, pattern),
        ilike(auditLog.targetId, pattern),
        sql`${auditLog.before}::text ilike ${pattern}`,
        sql`${auditLog.after}::text ilike ${pattern}`,
      ),
    );
  }
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      actor: { kind: r.actorKind, id: r.actorId, name: r.actorName },
      action: r.action,
      target: { type: r.targetType, id: r.targetId },
      before: r.before ?? null,
      after: r.after ?? null,
      ip: r.ip,
    })),
    nextCursor: rows.length > query.limit ? String(page.at(-1)!.id) : null,
  };
}
