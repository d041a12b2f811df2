import { z } from 'zod';

/**
 * The `admin` section. `key` guards `/admin/*` (bearer token, compared in constant time); write
 * `admin: { key: process.env.PORTCULLIS_ADMIN_KEY }` in gateway.config.ts. Without a key the
 * admin API is disabled (the CLI still works: it writes the store directly).
 */
export const adminConfigSchema = z.strictObject({
  key: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Admin request bodies over this are refused with 413. */
  maxBodyBytes: z.number().int().positive().max(16 * 1024 * 1024).default(256 * 1024),
});

export type AdminConfig = z.output<typeof adminConfigSchema>;
