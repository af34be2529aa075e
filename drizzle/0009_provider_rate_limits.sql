CREATE TABLE "provider_rate_limits" (
	"provider" text PRIMARY KEY NOT NULL,
	"booked_until" timestamp with time zone NOT NULL
);
