CREATE TABLE "affected_reports" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"component_id" text NOT NULL,
	"city" text,
	"incident_id" text,
	"customer_id" text,
	"contact" text,
	"contact_channel" text,
	"locale" text NOT NULL,
	"text" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "affected_reports_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "maintenance_series" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"title" text NOT NULL,
	"title_translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"body" text NOT NULL,
	"body_translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"components" jsonb NOT NULL,
	"first_start" text NOT NULL,
	"time_zone" text NOT NULL,
	"rrule" text NOT NULL,
	"duration_ms" integer NOT NULL,
	"auto_start" boolean DEFAULT true NOT NULL,
	"auto_end" boolean DEFAULT false NOT NULL,
	"overrun_after_ms" integer DEFAULT 900000 NOT NULL,
	"cancelled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "maintenance_series_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "post_incident_reports" (
	"workspace_id" text NOT NULL,
	"incident_id" text NOT NULL,
	"status" text NOT NULL,
	"sections" jsonb NOT NULL,
	"translations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"figures" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "post_incident_reports_workspace_id_incident_id_pk" PRIMARY KEY("workspace_id","incident_id")
);
--> statement-breakpoint
CREATE TABLE "status_pages" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"hostname" text,
	"components" jsonb NOT NULL,
	"password_hash" text,
	"email_domains" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ip_allow" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "status_pages_workspace_id_id_pk" PRIMARY KEY("workspace_id","id"),
	CONSTRAINT "status_pages_hostname_unique" UNIQUE("hostname")
);
--> statement-breakpoint
ALTER TABLE "maintenances" ADD COLUMN "series_id" text;--> statement-breakpoint
ALTER TABLE "affected_reports" ADD CONSTRAINT "affected_reports_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "maintenance_series" ADD CONSTRAINT "maintenance_series_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "post_incident_reports" ADD CONSTRAINT "post_incident_reports_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "post_incident_reports" ADD CONSTRAINT "post_incident_reports_workspace_id_incident_id_incidents_workspace_id_id_fk" FOREIGN KEY ("workspace_id","incident_id") REFERENCES "public"."incidents"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "status_pages" ADD CONSTRAINT "status_pages_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "affected_reports_component" ON "affected_reports" USING btree ("workspace_id","component_id","created_at");--> statement-breakpoint
CREATE INDEX "affected_reports_incident" ON "affected_reports" USING btree ("workspace_id","incident_id");