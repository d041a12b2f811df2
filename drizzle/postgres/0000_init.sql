CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text,
	"client_id" text NOT NULL,
	"tenant" text,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"expires_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_checkpoints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"seq" bigint NOT NULL,
	"head_hash" text NOT NULL,
	"time" bigint NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"time" bigint NOT NULL,
	"kind" text NOT NULL,
	"request_key" text NOT NULL,
	"agent" text,
	"user" text,
	"tenant" text,
	"client" text,
	"delegation" text,
	"server" text,
	"tool" text,
	"method" text,
	"args_digest" text,
	"args" text,
	"decision" text,
	"reason" text,
	"request_id" text,
	"source_ip" text,
	"status" text,
	"is_error" boolean,
	"latency_ms" double precision,
	"bytes" bigint,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "budget_usage" (
	"budget_id" text NOT NULL,
	"period_start" bigint NOT NULL,
	"used" double precision NOT NULL,
	CONSTRAINT "budget_usage_budget_id_period_start_pk" PRIMARY KEY("budget_id","period_start")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"id" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"subject" text NOT NULL,
	"metric" text NOT NULL,
	"limit_value" double precision NOT NULL,
	"period" text NOT NULL,
	"prices" text,
	"created_at" bigint NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delegations" (
	"id" text PRIMARY KEY NOT NULL,
	"parent_agent_id" text NOT NULL,
	"child_agent_id" text NOT NULL,
	"permissions" text NOT NULL,
	"max_depth" integer NOT NULL,
	"starts_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint,
	"created_at" bigint NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_access_tokens" (
	"jti" text PRIMARY KEY NOT NULL,
	"grant_id" text,
	"client_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint
);
--> statement-breakpoint
CREATE TABLE "oauth_clients" (
	"client_id" text PRIMARY KEY NOT NULL,
	"secret_hash" text,
	"metadata" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"grant_id" text NOT NULL,
	"client_id" text NOT NULL,
	"redirect_uri" text NOT NULL,
	"code_challenge" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint
);
--> statement-breakpoint
CREATE TABLE "oauth_consents" (
	"user_id" text NOT NULL,
	"client_id" text NOT NULL,
	"resource" text NOT NULL,
	"scope" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "oauth_consents_user_id_client_id_resource_pk" PRIMARY KEY("user_id","client_id","resource")
);
--> statement-breakpoint
CREATE TABLE "oauth_grants" (
	"id" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"user_id" text,
	"agent_id" text NOT NULL,
	"resource" text NOT NULL,
	"scope" text NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	"revoke_reason" text
);
--> statement-breakpoint
CREATE TABLE "oauth_interactions" (
	"id" text PRIMARY KEY NOT NULL,
	"browser_hash" text NOT NULL,
	"csrf_token" text NOT NULL,
	"request" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_login_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"user_name" text,
	"tenant" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_refresh_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"grant_id" text NOT NULL,
	"scope" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint
);
--> statement-breakpoint
CREATE TABLE "oauth_signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"private_jwk" text NOT NULL,
	"public_jwk" text NOT NULL,
	"created_at" bigint NOT NULL,
	"retired_at" bigint
);
--> statement-breakpoint
CREATE TABLE "permissions" (
	"id" text PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"resource" text NOT NULL,
	"actions" text NOT NULL,
	"effect" text NOT NULL,
	"constraints" text NOT NULL,
	"expires_at" bigint,
	"created_at" bigint NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "policy_changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"entity_id" text NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"name" text PRIMARY KEY NOT NULL,
	"transport" text NOT NULL,
	"target" text NOT NULL,
	"era" text,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"server" text NOT NULL,
	"principal" text NOT NULL,
	"protocol_version" text NOT NULL,
	"init_params" text NOT NULL,
	"upstream_session_id" text,
	"created_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tool_pins" (
	"server" text NOT NULL,
	"tool" text NOT NULL,
	"hash" text NOT NULL,
	"definition" text NOT NULL,
	"pending_hash" text,
	"pending_definition" text,
	"pending_since" bigint,
	"approved_at" bigint NOT NULL,
	"approved_by" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "tool_pins_server_tool_pk" PRIMARY KEY("server","tool")
);
--> statement-breakpoint
ALTER TABLE "budget_usage" ADD CONSTRAINT "budget_usage_budget_id_budgets_id_fk" FOREIGN KEY ("budget_id") REFERENCES "public"."budgets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delegations" ADD CONSTRAINT "delegations_parent_agent_id_agents_id_fk" FOREIGN KEY ("parent_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delegations" ADD CONSTRAINT "delegations_child_agent_id_agents_id_fk" FOREIGN KEY ("child_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "permissions" ADD CONSTRAINT "permissions_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agents_user_client_idx" ON "agents" USING btree ("user_id","client_id");--> statement-breakpoint
CREATE INDEX "agents_client_idx" ON "agents" USING btree ("client_id");--> statement-breakpoint
CREATE INDEX "audit_checkpoints_kind_seq_idx" ON "audit_checkpoints" USING btree ("kind","seq");--> statement-breakpoint
CREATE INDEX "audit_log_request_key_idx" ON "audit_log" USING btree ("request_key");--> statement-breakpoint
CREATE INDEX "audit_log_time_idx" ON "audit_log" USING btree ("time");--> statement-breakpoint
CREATE INDEX "audit_log_agent_idx" ON "audit_log" USING btree ("agent");--> statement-breakpoint
CREATE INDEX "audit_log_server_tool_idx" ON "audit_log" USING btree ("server","tool");--> statement-breakpoint
CREATE INDEX "budgets_subject_idx" ON "budgets" USING btree ("scope","subject");--> statement-breakpoint
CREATE INDEX "budgets_created_by_idx" ON "budgets" USING btree ("created_by");--> statement-breakpoint
CREATE INDEX "delegations_child_idx" ON "delegations" USING btree ("child_agent_id");--> statement-breakpoint
CREATE INDEX "delegations_parent_idx" ON "delegations" USING btree ("parent_agent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "delegations_live_child_idx" ON "delegations" USING btree ("child_agent_id") WHERE "delegations"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "oauth_access_grant_idx" ON "oauth_access_tokens" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "oauth_access_revoked_idx" ON "oauth_access_tokens" USING btree ("revoked_at");--> statement-breakpoint
CREATE INDEX "oauth_access_expires_idx" ON "oauth_access_tokens" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_codes_expires_idx" ON "oauth_codes" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_grants_agent_idx" ON "oauth_grants" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "oauth_interactions_expires_idx" ON "oauth_interactions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_login_sessions_expires_idx" ON "oauth_login_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_refresh_grant_idx" ON "oauth_refresh_tokens" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "oauth_refresh_expires_idx" ON "oauth_refresh_tokens" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "permissions_agent_idx" ON "permissions" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "permissions_created_by_idx" ON "permissions" USING btree ("created_by");--> statement-breakpoint
CREATE INDEX "policy_changes_entity_idx" ON "policy_changes" USING btree ("kind","entity_id");--> statement-breakpoint
CREATE INDEX "sessions_last_seen_idx" ON "sessions" USING btree ("last_seen_at");