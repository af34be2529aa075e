/**
 * One server for the three chat incoming webhooks, told apart by their real paths:
 *   Slack    POST /services/T…/B…/secret         200 "ok"; errors are plain text (invalid_payload, no_service…)
 *   Discord  POST /api/webhooks/{id}/{token}     ?wait=true → 200 message object, else 204; JSON errors
 *   Teams    POST /workflows/{id}/triggers/manual/paths/invoke?…   202 empty (Power Automate Workflows)
 * Paths added to `gone` answer as deleted webhooks (Slack 404 no_service, Discord 404 Unknown
 * Webhook, Teams 404). Payloads are checked against each service's documented limits.
 */
import { randomBytes } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

export type ChatService = "slack" | "discord" | "teams";

export interface ChatPost {
  service: ChatService;
  path: string;
  body: any;
  id?: string;
}

export function serviceOf(path: string): ChatService | undefined {
  if (path.startsWith("/services/")) return "slack";
  if (path.startsWith("/api/webhooks/")) return "discord";
  if (path.startsWith("/workflows/")) return "teams";
  return undefined;
}

export class ChatFake extends FakeHttpServer {
  readonly posts: ChatPost[] = [];
  /** webhook paths (without query) that were deleted */
  readonly gone = new Set<string>();

  slackUrl(name = "general") {
    return `${this.url}/services/T0AMENDS/B0${name.toUpperCase()}/${randomBytes(12).toString("hex")}`;
  }
  discordUrl() {
    return `${this.url}/api/webhooks/1234567890123456789/${randomBytes(34).toString("base64url")}`;
  }
  teamsUrl() {
    const id = randomBytes(16).toString("hex");
    return `${this.url}/workflows/${id}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${randomBytes(20).toString("base64url")}`;
  }

  protected override errorBody(status: number, req: Recorded): unknown {
    const service = serviceOf(req.path);
    if (service === "discord") {
      return status === 429
        ? { message: "You are being rate limited.", retry_after: 1.5, global: false }
        : { message: `${status}: error`, code: 0 };
    }
    if (service === "slack")
      return status === 429 ? "rate_limited" : status >= 500 ? "rollup_error" : "invalid_payload";
    return {
      error: { code: status >= 500 ? "InternalServerError" : "BadRequest", message: `status ${status}` },
    };
  }

  protected route(req: Recorded): Reply {
    const path = req.path.split("?")[0]!;
    const service = serviceOf(path);
    if (req.method !== "POST" || !service) return { status: 404, body: "Not Found" };
    const body = req.json;
    if (service === "slack") {
      if (this.gone.has(path)) return { status: 404, body: "no_service" };
      if (!body) return { status: 400, body: "invalid_payload" };
      if (!body.text && !body.blocks) return { status: 400, body: "no_text" };
      for (const block of body.blocks ?? []) {
        if (block.type === "section" && (block.text?.text?.length ?? 0) > 3000) {
          return { status: 400, body: "invalid_blocks" };
        }
      }
      this.posts.push({ service, path, body });
      return { status: 200, body: "ok" };
    }
    if (service === "discord") {
      if (this.gone.has(path)) return { status: 404, body: { message: "Unknown Webhook", code: 10015 } };
      const embeds: any[] = body?.embeds ?? [];
      const tooLong =
        (body?.content?.length ?? 0) > 2000 ||
        embeds.some((e) => (e.title?.length ?? 0) > 256 || (e.description?.length ?? 0) > 4096);
      if (!body || (!body.content && embeds.length === 0) || tooLong) {
        return { status: 400, body: { message: "Invalid Form Body", code: 50035, errors: {} } };
      }
      const id = String(BigInt(Date.now() - 1420070400000) << 22n);
      this.posts.push({ service, path, body, id });
      if (!new URLSearchParams(req.path.split("?")[1] ?? "").has("wait")) return { status: 204 };
      return {
        status: 200,
        body: { id, type: 0, content: body.content, embeds, channel_id: "1", webhook_id: path.split("/")[3] },
      };
    }
    if (this.gone.has(path)) return { status: 404, body: { error: { code: "WorkflowNotFound" } } };
    const card = body?.attachments?.[0];
    if (body?.type !== "message" || card?.contentType !== "application/vnd.microsoft.card.adaptive") {
      return { status: 400, body: { error: { code: "InvalidRequestContent", message: "not a card" } } };
    }
    this.posts.push({ service, path, body });
    return { status: 202 };
  }
}
