CREATE TABLE "usage_versions" (
	"workspace_id" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "comp_runs" ADD COLUMN "usage_version" bigint;--> statement-breakpoint
ALTER TABLE "usage_versions" ADD CONSTRAINT "usage_versions_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;