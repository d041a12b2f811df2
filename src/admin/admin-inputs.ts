import { z } from 'zod';
import { formatPath, parseResourcePattern, POLICY_ACTIONS, type PolicyInputError } from '../policy/index.js';

/**
 * What the admin API, the CLI and the config hand the admin service, before the policy module
 * compiles it. These schemas only shape the envelope (ids, agent references, time sugar); the
 * grant, delegation and budget themselves are validated by `compilePermission`,
 * `validateDelegation` and `compileBudget`, so there is one definition of "valid" and the field
 * paths of their errors are the paths of these inputs.
 */

/** Ids appear in URLs and CLI arguments: no `/`, no spaces. */
export const entityId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'ids are letters, digits and . _ : @ - (starting with a letter or digit)');

/** An instant: epoch milliseconds, or an ISO 8601 date-time with offset (`2026-01-31T00:00:00Z`). */
export const instantInput = z.union(
  [z.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))],
  { error: 'expected epoch milliseconds or an ISO 8601 date-time such as 2026-01-31T00:00:00Z' },
);

const label = z.string().min(1).max(256);

/** A new agent. Admin-created agents act for machines (`autonomous`) or receive delegations. */
export const agentCreateSchema = z.strictObject({
  id: entityId.optional(),
  name: label,
  type: z.enum(['autonomous', 'delegated']).default('autonomous'),
  /** The human the agent acts for, if any (counts towards `agents.maxPerUser`). */
  userId: label.nullable().default(null),
  tenant: label.nullable().default(null),
  /** The OAuth client whose client_credentials tokens act as this agent; default `admin:{id}`. */
  clientId: label.optional(),
  expiresAt: instantInput.nullable().optional(),
});
export type AgentCreateInput = z.input<typeof agentCreateSchema>;

/** Fields of an agent that can change in place (status has its own verbs). */
export const agentUpdateSchema = z.strictObject({
  name: label.optional(),
  tenant: label.nullable().optional(),
  expiresAt: instantInput.nullable().optional(),
});
export type AgentUpdateInput = z.input<typeof agentUpdateSchema>;

/**
 * A grant. `resource`, `actions`, `effect` and `constraints` go to `compilePermission` as they
 * are; `expiresAt` is sugar for `constraints.expiresAt`.
 */
export const grantInputSchema = z.strictObject({
  id: entityId.optional(),
  agentId: z.string().min(1),
  resource: z.unknown(),
  actions: z.unknown().optional(),
  effect: z.unknown().optional(),
  constraints: z.record(z.string(), z.unknown()).optional(),
  expiresAt: instantInput.nullable().optional(),
});
export type GrantInput = z.input<typeof grantInputSchema>;

/**
 * A delegation. Either `permissions` (full grant inputs, ids optional) or the `resources`
 * shorthand (one grant per pattern with `actions`, default `call`).
 */
export const delegateInputSchema = z
  .strictObject({
    id: entityId.optional(),
    parentAgentId: z.string().min(1),
    childAgentId: z.string().min(1),
    permissions: z.array(z.record(z.string(), z.unknown())).min(1).max(256).optional(),
    resources: z.array(z.string()).min(1).max(256).optional(),
    actions: z.array(z.enum(POLICY_ACTIONS as [string, ...string[]])).min(1).optional(),
    /** Links allowed in the whole chain; the root link's value caps every descendant. */
    maxDepth: z.number().int().min(1).max(16).default(1),
    expiresAt: instantInput.optional(),
  })
  .refine((d) => (d.permissions === undefined) !== (d.resources === undefined), {
    message: 'give either permissions or resources',
    path: ['permissions'],
  });
export type DelegateInput = z.input<typeof delegateInputSchema>;

/** Per-tool price: `{ "mcp:github:create_issue": 3 }`; patterns allowed, the most specific wins. */
export const pricesSchema = z
  .record(z.string(), z.number().nonnegative().max(Number.MAX_SAFE_INTEGER))
  .superRefine((prices, ctx) => {
    const keys = Object.keys(prices);
    if (keys.length > 1000) ctx.addIssue({ code: 'custom', message: 'at most 1000 prices' });
    for (const key of keys) {
      const parsed = parseResourcePattern(key);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', path: [key], message: parsed.message });
    }
  });

/** A budget; everything but `prices` goes to `compileBudget`. */
export const budgetSetSchema = z.strictObject({
  id: entityId.optional(),
  scope: z.unknown(),
  subject: z.unknown(),
  metric: z.unknown(),
  limit: z.unknown(),
  period: z.unknown(),
  prices: pricesSchema.nullable().optional(),
});
export type BudgetSetInput = z.input<typeof budgetSetSchema>;

/** A hypothetical call to explain. */
export const explainInputSchema = z.strictObject({
  agent: z.string().min(1),
  server: z.string().min(1).regex(/^[^:]+$/, 'a server name has no ":"'),
  tool: z.string().min(1),
  action: z.enum(POLICY_ACTIONS as [string, ...string[]]).default('call'),
  args: z.unknown().optional(),
  ip: z.string().max(64).optional(),
});
export type ExplainInput = z.input<typeof explainInputSchema>;

/** Parses with `schema`, or returns the issues as `{ path, message }`. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
): { ok: true; value: z.output<T> } | { ok: false; errors: PolicyInputError[] } {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
}

/** `prefix` + a nested error path: `permissions[0]` + `resource` → `permissions[0].resource`. */
export function joinPath(prefix: string, rest: string): string {
  if (rest === '') return prefix;
  if (prefix === '') return rest;
  return rest.startsWith('[') ? prefix + rest : `${prefix}.${rest}`;
}
