CREATE TABLE "task_events" (
	"event_ms" bigint NOT NULL,
	"event_seq" integer NOT NULL,
	"task_id" text NOT NULL,
	"event" text NOT NULL,
	"status" text NOT NULL,
	"actor" text,
	"source" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "task_events_event_ms_event_seq_pk" PRIMARY KEY("event_ms","event_seq")
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"text" text NOT NULL,
	"description" text,
	"priority" integer NOT NULL,
	"status" text NOT NULL,
	"channel" text,
	"assigned_to" text,
	"attempts" integer NOT NULL,
	"max_attempts" integer NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"result" jsonb,
	"error" text,
	"dead_lettered" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"claimed_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"deleted" boolean DEFAULT false NOT NULL,
	"event_ms" bigint NOT NULL,
	"event_seq" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "task_events_task_idx" ON "task_events" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "tasks_status_idx" ON "tasks" USING btree ("status");--> statement-breakpoint
CREATE INDEX "tasks_channel_idx" ON "tasks" USING btree ("channel");