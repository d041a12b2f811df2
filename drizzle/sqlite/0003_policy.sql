CREATE TABLE `budget_usage` (
	`budget_id` text NOT NULL,
	`period_start` integer NOT NULL,
	`used` real NOT NULL,
	PRIMARY KEY(`budget_id`, `period_start`),
	FOREIGN KEY (`budget_id`) REFERENCES `budgets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `budgets` (
	`id` text PRIMARY KEY NOT NULL,
	`scope` text NOT NULL,
	`subject` text NOT NULL,
	`metric` text NOT NULL,
	`limit_value` real NOT NULL,
	`period` text NOT NULL,
	`prices` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `budgets_subject_idx` ON `budgets` (`scope`,`subject`);--> statement-breakpoint
CREATE INDEX `budgets_created_by_idx` ON `budgets` (`created_by`);--> statement-breakpoint
CREATE TABLE `delegations` (
	`id` text PRIMARY KEY NOT NULL,
	`parent_agent_id` text NOT NULL,
	`child_agent_id` text NOT NULL,
	`permissions` text NOT NULL,
	`max_depth` integer NOT NULL,
	`starts_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	FOREIGN KEY (`parent_agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`child_agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `delegations_child_idx` ON `delegations` (`child_agent_id`);--> statement-breakpoint
CREATE INDEX `delegations_parent_idx` ON `delegations` (`parent_agent_id`);--> statement-breakpoint
CREATE TABLE `permissions` (
	`id` text PRIMARY KEY NOT NULL,
	`agent_id` text NOT NULL,
	`resource` text NOT NULL,
	`actions` text NOT NULL,
	`effect` text NOT NULL,
	`constraints` text NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `permissions_agent_idx` ON `permissions` (`agent_id`);--> statement-breakpoint
CREATE INDEX `permissions_created_by_idx` ON `permissions` (`created_by`);--> statement-breakpoint
CREATE TABLE `policy_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`entity_id` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `policy_changes_entity_idx` ON `policy_changes` (`kind`,`entity_id`);