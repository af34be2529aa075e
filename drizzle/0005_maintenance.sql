CREATE TABLE "maintenances" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"title" text NOT NULL,
	"title_translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"body" text NOT NULL,
	"body_translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"components" jsonb NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"auto_start" boolean DEFAULT true NOT NULL,
	"auto_end" boolean DEFAULT false NOT NULL,
	"overrun_after_ms" integer DEFAULT 900000 NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"reminded_at" timestamp with time zone,
	"overrun_incident_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "maintenances_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
ALTER TABLE "maintenances" ADD CONSTRAINT "maintenances_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "maintenances_open" ON "maintenances" USING btree ("status","starts_at");--> statement-breakpoint
CREATE INDEX "maintenances_workspace" ON "maintenances" USING btree ("workspace_id","starts_at");