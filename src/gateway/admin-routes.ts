import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isAdminError, type AdminErrorCode } from '../admin/admin-error.js';
import type { PolicyAdmin } from '../admin/policy-admin.js';
import type { Logger } from '../logger.js';
import { requireAdminKey } from './admin-auth.js';

/** Options of `createAdminRoutes`. */
export interface AdminRoutesOptions {
  readonly admin: PolicyAdmin;
  /** The admin key (≥ 32 chars); `null`/`undefined` disables the API (every route answers 404). */
  readonly key: string | null | undefined;
  /** Request bodies over this are refused with 413; default 256 KiB. */
  readonly maxBodyBytes?: number;
  readonly logger?: Pick<Logger, 'error'>;
}

const STATUS: Readonly<Record<AdminErrorCode, ContentfulStatusCode>> = { INVALID_INPUT: 400, NOT_FOUND: 404, CONFLICT: 409 };
const AGENT_STATUSES = new Set(['active', 'suspended', 'revoked']);
const BUDGET_SCOPES = new Set(['agent', 'user', 'tenant']);

/** A refusal the routes answer without asking the admin service. */
class RouteError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The admin API, mounted by the gateway with `app.route('/admin', createAdminRoutes(...))`:
 * JSON CRUD for agents, permissions, delegations and budgets, and `POST /explain`, all through
 * the admin service (the same code path as the CLI). Guarded by a bearer admin key compared in
 * constant time. Errors are JSON `{ error, message, errors?: [{ path, message }] }`: 400 invalid
 * input (with field paths), 401 bad key, 404 unknown id, 409 conflict, 413 body too large,
 * 415 not JSON. Lists answer `{ items: [...] }`; creations 201; deletions 204.
 */
export function createAdminRoutes(options: AdminRoutesOptions): Hono {
  const app = new Hono();
  const { admin } = options;
  app.onError((err, c) => {
    if (err instanceof RouteError) return c.json({ error: err.code, message: err.message }, err.status);
    if (isAdminError(err)) {
      const body = { error: err.code.toLowerCase(), message: err.message, ...(err.errors.length > 0 ? { errors: err.errors } : {}) };
      return c.json(body, STATUS[err.code]);
    }
    options.logger?.error({ err }, 'admin API request failed');
    return c.json({ error: 'internal_error', message: 'internal error' }, 500);
  });

  if (options.key === null || options.key === undefined) {
    app.all('*', (c) => c.json({ error: 'admin_disabled', message: 'the admin API is disabled: set admin.key (or PORTCULLIS_ADMIN_KEY)' }, 404));
    return app;
  }
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TypeError('createAdminRoutes: maxBodyBytes must be a positive integer');

  app.use('*', requireAdminKey(options.key));
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => c.json({ error: 'body_too_large', message: `request bodies are limited to ${maxBodyBytes} bytes` }, 413),
    }),
  );

  // Agents.
  app.get('/agents', async (c) => {
    const status = c.req.query('status');
    if (status !== undefined && !AGENT_STATUSES.has(status)) throw new RouteError(400, 'invalid_input', 'status must be active, suspended or revoked');
    const type = c.req.query('type') as 'interactive' | 'autonomous' | 'delegated' | undefined;
    const items = await admin.listAgents({ userId: c.req.query('userId'), tenant: c.req.query('tenant'), status: status as never, type });
    return c.json({ items });
  });
  app.post('/agents', async (c) => c.json(await admin.createAgent(await jsonBody(c)), 201));
  app.get('/agents/:id', async (c) => c.json(await admin.getAgent(c.req.param('id'))));
  app.patch('/agents/:id', async (c) => c.json(await admin.updateAgent(c.req.param('id'), await jsonBody(c))));
  app.post('/agents/:id/suspend', async (c) => c.json(await admin.suspendAgent(c.req.param('id'))));
  app.post('/agents/:id/activate', async (c) => c.json(await admin.activateAgent(c.req.param('id'))));
  app.post('/agents/:id/revoke', async (c) => c.json(await admin.revokeAgent(c.req.param('id'))));
  app.delete('/agents/:id', async (c) => {
    await admin.deleteAgent(c.req.param('id'));
    return c.body(null, 204);
  });
  app.get('/agents/:id/permissions', async (c) => {
    const agent = await admin.getAgent(c.req.param('id'));
    return c.json({ items: await admin.listPermissions({ agentId: agent.id }) });
  });

  // Permissions (grants).
  app.get('/permissions', async (c) => c.json({ items: await admin.listPermissions({ agentId: c.req.query('agentId') }) }));
  app.post('/permissions', async (c) => c.json(await admin.grant(await jsonBody(c), { actor: 'api' }), 201));
  app.get('/permissions/:id', async (c) => c.json(await admin.getPermission(c.req.param('id'))));
  app.delete('/permissions/:id', async (c) => {
    await admin.revokePermission(c.req.param('id'));
    return c.body(null, 204);
  });

  // Delegations.
  app.get('/delegations', async (c) =>
    c.json({ items: await admin.listDelegations({ parentAgentId: c.req.query('parentAgentId'), childAgentId: c.req.query('childAgentId') }) }),
  );
  app.post('/delegations', async (c) => c.json(await admin.delegate(await jsonBody(c), { actor: 'api' }), 201));
  app.get('/delegations/:id', async (c) => c.json(await admin.getDelegation(c.req.param('id'))));
  app.post('/delegations/:id/revoke', async (c) => c.json(await admin.revokeDelegation(c.req.param('id'))));
  app.delete('/delegations/:id', async (c) => {
    await admin.deleteDelegation(c.req.param('id'));
    return c.body(null, 204);
  });

  // Budgets: PUT (or POST) sets one, creating or updating.
  app.get('/budgets', async (c) => {
    const scope = c.req.query('scope');
    if (scope !== undefined && !BUDGET_SCOPES.has(scope)) throw new RouteError(400, 'invalid_input', 'scope must be agent, user or tenant');
    return c.json({ items: await admin.listBudgets({ scope: scope as never, subject: c.req.query('subject') }) });
  });
  const setBudget = async (c: Context) => c.json(await admin.setBudget(await jsonBody(c), { actor: 'api' }));
  app.put('/budgets', setBudget);
  app.post('/budgets', setBudget);
  app.get('/budgets/:id', async (c) => c.json(await admin.getBudget(c.req.param('id'))));
  app.delete('/budgets/:id', async (c) => {
    await admin.deleteBudget(c.req.param('id'));
    return c.body(null, 204);
  });

  // What would happen if agent X called server.tool with these arguments?
  app.post('/explain', async (c) => c.json(await admin.explain(await jsonBody(c))));

  app.all('*', (c) => c.json({ error: 'not_found', message: `no admin route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  return app;
}

/** The request's JSON body; only `application/json` is accepted (415 otherwise, 400 if malformed). */
async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new RouteError(415, 'unsupported_media_type', 'send the body as application/json');
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RouteError(400, 'invalid_json', 'the body is not valid JSON');
  }
}
