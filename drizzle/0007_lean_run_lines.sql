CREATE TABLE "usage_bounds" (
	"workspace_id" text PRIMARY KEY NOT NULL,
	"longest_session_ms" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "usage_bounds" ADD CONSTRAINT "usage_bounds_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Sessions imported before this migration bound previews too.
INSERT INTO "usage_bounds" ("workspace_id", "longest_session_ms")
  SELECT "workspace_id", ceil(max(extract(epoch from "ended_at" - "started_at")) * 1000)::bigint
  FROM "usage_sessions" WHERE "ended_at" IS NOT NULL GROUP BY "workspace_id";--> statement-breakpoint
CREATE INDEX "usage_sessions_open" ON "usage_sessions" USING btree ("workspace_id","started_at") WHERE "usage_sessions"."ended_at" is null;--> statement-breakpoint
DROP INDEX "comp_run_lines_customer";--> statement-breakpoint
-- Lines of earlier runs move from the JSON copy into the new columns.
ALTER TABLE "comp_run_lines" ADD COLUMN "already_applied" bigint;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "policy_group" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "rule" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "breakdown" jsonb;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "session" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "charge" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "due_by" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "scope" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "expires_at" text;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD COLUMN "visible_by" text;--> statement-breakpoint
UPDATE "comp_run_lines" SET
  "already_applied" = ("line"->>'alreadyApplied')::bigint,
  "policy_group" = "line"->>'group',
  "rule" = "line"->>'rule',
  "breakdown" = "line"->'breakdown',
  "session" = "line"->>'session',
  "charge" = "line"->>'charge',
  "reason" = "line"->>'reason',
  "due_by" = "line"->>'dueBy',
  "scope" = "line"->>'scope',
  "expires_at" = "line"->>'expiresAt',
  "visible_by" = "line"->>'visibleBy';--> statement-breakpoint
ALTER TABLE "comp_run_lines" ALTER COLUMN "already_applied" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ALTER COLUMN "policy_group" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ALTER COLUMN "rule" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "comp_run_lines" ALTER COLUMN "breakdown" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "comp_run_lines" DROP COLUMN "line";
