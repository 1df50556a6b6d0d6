CREATE TABLE "hook_decisions" (
	"event_ms" bigint NOT NULL,
	"event_seq" integer NOT NULL,
	"session_id" text,
	"instance_id" text,
	"tool" text NOT NULL,
	"input_digest" text NOT NULL,
	"summary" text,
	"decision" text NOT NULL,
	"rule" text,
	"reason" text,
	"cwd" text,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "hook_decisions_event_ms_event_seq_pk" PRIMARY KEY("event_ms","event_seq")
);
--> statement-breakpoint
CREATE INDEX "hook_decisions_session_idx" ON "hook_decisions" USING btree ("session_id");