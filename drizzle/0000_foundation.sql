CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"secret_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE TABLE "charges" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"customer_id" text NOT NULL,
	"usage_ref" text,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"amount_refunded" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "charges_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "components" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"parent_id" text,
	"name" text NOT NULL,
	"description" text,
	"region" text,
	"position" integer DEFAULT 0 NOT NULL,
	"own_status" text DEFAULT 'operational' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "components_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text,
	"home_region" text,
	"plan" text,
	"locale" text DEFAULT 'en' NOT NULL,
	"channels" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"monthly_fee" bigint,
	"currency" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "incident_components" (
	"workspace_id" text NOT NULL,
	"incident_id" text NOT NULL,
	"component_id" text NOT NULL,
	"status" text NOT NULL,
	CONSTRAINT "incident_components_workspace_id_incident_id_component_id_pk" PRIMARY KEY("workspace_id","incident_id","component_id")
);
--> statement-breakpoint
CREATE TABLE "incident_updates" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"incident_id" text NOT NULL,
	"status" text NOT NULL,
	"body" text NOT NULL,
	"components" jsonb NOT NULL,
	"eta" timestamp with time zone,
	"next_update_by" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text,
	CONSTRAINT "incident_updates_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "incidents" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"title" text NOT NULL,
	"impact" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"identified_at" timestamp with time zone,
	"monitoring_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"eta" timestamp with time zone,
	"next_update_by" timestamp with time zone,
	CONSTRAINT "incidents_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "usage_sessions" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"component_id" text,
	"region" text,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"charge" bigint DEFAULT 0 NOT NULL,
	"currency" text NOT NULL,
	"refunded" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_sessions_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"public_url" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workspaces_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "charges" ADD CONSTRAINT "charges_workspace_id_customer_id_customers_workspace_id_id_fk" FOREIGN KEY ("workspace_id","customer_id") REFERENCES "public"."customers"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "components" ADD CONSTRAINT "components_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "components" ADD CONSTRAINT "components_workspace_id_parent_id_components_workspace_id_id_fk" FOREIGN KEY ("workspace_id","parent_id") REFERENCES "public"."components"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customers" ADD CONSTRAINT "customers_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_components" ADD CONSTRAINT "incident_components_workspace_id_incident_id_incidents_workspace_id_id_fk" FOREIGN KEY ("workspace_id","incident_id") REFERENCES "public"."incidents"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_components" ADD CONSTRAINT "incident_components_workspace_id_component_id_components_workspace_id_id_fk" FOREIGN KEY ("workspace_id","component_id") REFERENCES "public"."components"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_updates" ADD CONSTRAINT "incident_updates_workspace_id_incident_id_incidents_workspace_id_id_fk" FOREIGN KEY ("workspace_id","incident_id") REFERENCES "public"."incidents"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incidents_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_sessions" ADD CONSTRAINT "usage_sessions_workspace_id_customer_id_customers_workspace_id_id_fk" FOREIGN KEY ("workspace_id","customer_id") REFERENCES "public"."customers"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_workspace" ON "api_tokens" USING btree ("workspace_id");--> statement-breakpoint
CREATE INDEX "charges_created" ON "charges" USING btree ("workspace_id","created_at");--> statement-breakpoint
CREATE INDEX "charges_customer" ON "charges" USING btree ("workspace_id","customer_id","usage_ref");--> statement-breakpoint
CREATE INDEX "components_parent" ON "components" USING btree ("workspace_id","parent_id");--> statement-breakpoint
CREATE INDEX "customers_region" ON "customers" USING btree ("workspace_id","home_region");--> statement-breakpoint
CREATE INDEX "incident_components_component" ON "incident_components" USING btree ("workspace_id","component_id");--> statement-breakpoint
CREATE INDEX "incident_updates_incident" ON "incident_updates" USING btree ("workspace_id","incident_id","created_at");--> statement-breakpoint
CREATE INDEX "incidents_open" ON "incidents" USING btree ("workspace_id") WHERE "incidents"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "incidents_resolved_at" ON "incidents" USING btree ("workspace_id","resolved_at");--> statement-breakpoint
CREATE INDEX "usage_sessions_time" ON "usage_sessions" USING btree ("workspace_id","started_at","ended_at");--> statement-breakpoint
CREATE INDEX "usage_sessions_customer" ON "usage_sessions" USING btree ("workspace_id","customer_id");