CREATE TABLE "audit_log" (
	"event_ms" bigint NOT NULL,
	"event_seq" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"method" text NOT NULL,
	"transport" text NOT NULL,
	"outcome" text NOT NULL,
	"target" text,
	"session_id" text,
	"instance_id" text,
	"remote_address" text,
	"request_id" text NOT NULL,
	"server" text NOT NULL,
	"duration_ms" double precision NOT NULL,
	CONSTRAINT "audit_log_event_ms_event_seq_pk" PRIMARY KEY("event_ms","event_seq")
);
--> statement-breakpoint
CREATE INDEX "audit_log_method_idx" ON "audit_log" USING btree ("method");--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target");--> statement-breakpoint
CREATE INDEX "audit_log_session_idx" ON "audit_log" USING btree ("session_id");