// One gateway configuration for the benchmark, in its own process, built through the public
// library API so each row switches on exactly the pieces it names:
//   plain   no auth, no policy, no audit
//   auth    bearer token verified (cached), no policy, no audit
//   policy  auth + policy decision (index built in memory)
//   full    auth + policy + budget reservation + durable audit (default durability)
//   store   the full path as a deployment runs it: policy, budgets and audit all from the store
//           (DATABASE is a SQLite file or a postgres:// URL), optionally seeded with
//           --agents N agents of --perms K permissions each before it starts
// Usage: node bench/gateway-variant.mjs VARIANT PORT UPSTREAM_URL DATABASE [--agents N] [--perms K]
// Prints one JSON line {"ready":…, "port":…, "token":…, "aggregateToken":…} once it serves.
import { parseArgs } from 'node:util';
import { createGateway, parseConfig } from '../dist/index.js';
import { createLogger } from '../dist/logger.js';
import { compileBudget, compilePermission, createMemoryBudgetLedger, createPolicyEngine, createPolicyIndex } from '../dist/policy/index.js';
import { openStore } from '../dist/store/open-store.js';
import { seedPostgres, seedSqlite } from './seed-policy.mjs';

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { agents: { type: 'string', default: '0' }, perms: { type: 'string', default: '10' } },
});
const [variant, portText, upstream, databaseArg] = positionals;
const port = Number(portText);
const base = `http://127.0.0.1:${port}`;
const client = { clientId: 'bench', clientSecret: 'bench-secret-bench-secret-bench-secret-0' };
const adminKey = 'bench-admin-key-bench-admin-key-bench-admin-key';
const auth = variant !== 'plain';
const fromStore = variant === 'store';
const database = databaseArg.startsWith('postgres') ? { provider: 'postgres', url: databaseArg } : { provider: 'sqlite', url: databaseArg };
const config = parseConfig({
  port,
  logging: { level: 'warn' },
  database,
  oauth: auth ? { preRegisteredClients: [{ ...client, grantTypes: ['client_credentials'] }] } : { enforceAuth: false },
  admin: fromStore ? { key: adminKey } : {},
  servers: { raw: { transport: 'http', url: upstream } },
});

if (fromStore && Number(opts.agents) > 0) {
  await (await openStore(database)).close(); // creates the schema
  const seed = database.provider === 'postgres' ? seedPostgres : seedSqlite;
  await seed(database.url, Number(opts.agents), Number(opts.perms));
}

const index = createPolicyIndex();
const engine = createPolicyEngine({ index, now: Date.now, ledger: variant === 'full' ? createMemoryBudgetLedger() : null });
const gateway = await createGateway({
  config,
  logger: createLogger('warn'),
  policy: fromStore ? undefined : variant === 'policy' || variant === 'full' ? engine : null,
  recorder: variant === 'full' || fromStore ? undefined : null,
});
await gateway.listen();

async function token(resource) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource }),
  });
  if (!res.ok) throw new Error(`token request failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

async function admin(method, path, body) {
  const res = await fetch(`${base}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
}

let bearer = '';
let aggregateToken = '';
if (auth) {
  bearer = await token(`${base}/mcp/raw`);
  const agentId = JSON.parse(Buffer.from(bearer.split('.')[1], 'base64url').toString()).agent_id;
  const grant = { resource: 'mcp:raw:*', actions: ['call'] };
  const budget = { scope: 'agent', subject: agentId, metric: 'calls', limit: 1e12, period: 'day' };
  if (fromStore) {
    aggregateToken = await token(`${base}/mcp`);
    await admin('POST', '/permissions', { agentId, ...grant });
    await admin('PUT', '/budgets', { id: 'bench-budget', ...budget });
  } else {
    index.putAgent({ id: agentId, ownerUser: null, tenant: null, name: 'bench', type: 'autonomous', status: 'active', expiresAt: null });
    index.putPermission(agentId, compilePermission({ id: 'bench-raw', ...grant }).compiled);
    if (variant === 'full') index.putBudget(compileBudget({ id: 'bench-budget', ...budget }).compiled);
  }
}
console.log(JSON.stringify({ ready: `gateway-${variant}`, port, token: bearer, aggregateToken }));
process.on('SIGTERM', () => gateway.close().then(() => process.exit(0)));
// bench:sessions asks for a full collection before it reads RSS (started with --expose-gc), so a
// leak shows apart from garbage V8 has simply not collected yet.
if (typeof globalThis.gc === 'function') process.on('SIGUSR2', () => globalThis.gc());
