CREATE TABLE `tool_pins` (
	`server` text NOT NULL,
	`tool` text NOT NULL,
	`hash` text NOT NULL,
	`definition` text NOT NULL,
	`pending_hash` text,
	`pending_definition` text,
	`pending_since` integer,
	`approved_at` integer NOT NULL,
	`approved_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`server`, `tool`)
);
