import { z } from 'zod';

/** The `audit` section: the durable record of every gated call. */
export const auditConfigSchema = z.strictObject({
  /**
   * `process` (default): WAL with synchronous=NORMAL — a committed record survives a killed
   * gateway process. `power`: synchronous=FULL — it also survives power loss, at the cost of an
   * fsync per batch (see the README for the measured cost).
   */
  durability: z.enum(['process', 'power']).default('process'),
  /** Prune records older than this many days, in the background; verify keeps working. */
  retentionDays: z.number().positive().optional(),
  /**
   * Keys whose values are redacted wherever they appear in stored arguments; by default the
   * audit log's own list (passwords, tokens, secrets, keys, cookies, credentials, …).
   */
  redactKeys: z.array(z.string().min(1)).optional(),
});
