CREATE TABLE "monitor_claims" (
	"workspace_id" text NOT NULL,
	"monitor_id" text NOT NULL,
	"location" text NOT NULL,
	"slot" bigint NOT NULL,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "monitor_claims_workspace_id_monitor_id_location_slot_pk" PRIMARY KEY("workspace_id","monitor_id","location","slot")
);
--> statement-breakpoint
CREATE TABLE "monitor_results" (
	"workspace_id" text NOT NULL,
	"monitor_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"location" text NOT NULL,
	"ok" boolean NOT NULL,
	"latency_ms" integer,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "monitor_rollups" (
	"workspace_id" text NOT NULL,
	"monitor_id" text NOT NULL,
	"resolution" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"checks" integer NOT NULL,
	"failures" integer NOT NULL,
	"latency_p50_ms" integer,
	"latency_p95_ms" integer,
	CONSTRAINT "monitor_rollups_workspace_id_monitor_id_resolution_at_pk" PRIMARY KEY("workspace_id","monitor_id","resolution","at")
);
--> statement-breakpoint
CREATE TABLE "monitors" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"component_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"interval_seconds" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"retries" integer DEFAULT 0 NOT NULL,
	"confirm" jsonb NOT NULL,
	"min_locations" integer DEFAULT 1 NOT NULL,
	"assertions" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"on_failure" text NOT NULL,
	"protocol" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"state_changed_at" timestamp with time zone,
	"recovering_since" timestamp with time zone,
	"transitions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"incident_id" text,
	"heartbeat_token" text,
	"last_heartbeat_at" timestamp with time zone,
	"last_check_at" timestamp with time zone,
	"last_latency_ms" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "monitors_workspace_id_id_pk" PRIMARY KEY("workspace_id","id"),
	CONSTRAINT "monitors_heartbeat_token_unique" UNIQUE("heartbeat_token")
);
--> statement-breakpoint
CREATE TABLE "probes" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"location" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone,
	CONSTRAINT "probes_workspace_id_id_pk" PRIMARY KEY("workspace_id","id"),
	CONSTRAINT "probes_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "protocols" (
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"template" jsonb NOT NULL,
	"incident_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "protocols_workspace_id_name_pk" PRIMARY KEY("workspace_id","name")
);
--> statement-breakpoint
ALTER TABLE "monitors" ADD CONSTRAINT "monitors_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "probes" ADD CONSTRAINT "probes_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "protocols" ADD CONSTRAINT "protocols_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "monitor_results_monitor_at" ON "monitor_results" USING btree ("workspace_id","monitor_id","at");