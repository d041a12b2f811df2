CREATE TABLE `audit_checkpoints` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`seq` integer NOT NULL,
	`head_hash` text NOT NULL,
	`time` integer NOT NULL,
	`signature` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_checkpoints_kind_seq_idx` ON `audit_checkpoints` (`kind`,`seq`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`time` integer NOT NULL,
	`kind` text NOT NULL,
	`request_key` text NOT NULL,
	`agent` text,
	`user` text,
	`tenant` text,
	`client` text,
	`delegation` text,
	`server` text,
	`tool` text,
	`method` text,
	`args_digest` text,
	`args` text,
	`decision` text,
	`reason` text,
	`request_id` text,
	`source_ip` text,
	`status` text,
	`is_error` integer,
	`latency_ms` real,
	`bytes` integer,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_request_key_idx` ON `audit_log` (`request_key`);--> statement-breakpoint
CREATE INDEX `audit_log_time_idx` ON `audit_log` (`time`);--> statement-breakpoint
CREATE INDEX `audit_log_agent_idx` ON `audit_log` (`agent`);--> statement-breakpoint
CREATE INDEX `audit_log_server_tool_idx` ON `audit_log` (`server`,`tool`);