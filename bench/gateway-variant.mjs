// One gateway configuration for the benchmark, in its own process, built through the public
// library API so each row switches on exactly the pieces it names:
//   plain   no auth, no policy, no audit
//   auth    bearer token verified (cached), no policy, no audit
//   policy  auth + policy decision
//   full    auth + policy + budget reservation + durable audit (default durability)
// Usage: node bench/gateway-variant.mjs VARIANT PORT UPSTREAM_URL DB_FILE
// Prints one JSON line {"ready":…, "port":…, "token":…} once it serves.
import { createGateway, parseConfig } from '../dist/index.js';
import { createLogger } from '../dist/logger.js';
import { compileBudget, compilePermission, createMemoryBudgetLedger, createPolicyEngine, createPolicyIndex } from '../dist/policy/index.js';

const [variant, portText, upstream, dbFile] = process.argv.slice(2);
const port = Number(portText);
const client = { clientId: 'bench', clientSecret: 'bench-secret-bench-secret-bench-secret-0' };
const auth = variant !== 'plain';
const config = parseConfig({
  port,
  logging: { level: 'warn' },
  database: { provider: 'sqlite', url: dbFile },
  oauth: auth ? { preRegisteredClients: [{ ...client, grantTypes: ['client_credentials'] }] } : { enforceAuth: false },
  servers: { raw: { transport: 'http', url: upstream } },
});

const index = createPolicyIndex();
const engine = createPolicyEngine({ index, now: Date.now, ledger: variant === 'full' ? createMemoryBudgetLedger() : null });
const gateway = await createGateway({
  config,
  logger: createLogger('warn'),
  policy: variant === 'policy' || variant === 'full' ? engine : null,
  recorder: variant === 'full' ? undefined : null,
});
await gateway.listen();

let token = '';
if (auth) {
  const base = `http://127.0.0.1:${port}`;
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${base}/mcp/raw` }),
  });
  if (!res.ok) throw new Error(`token request failed: HTTP ${res.status} ${await res.text()}`);
  token = (await res.json()).access_token;
  const agentId = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).agent_id;
  index.putAgent({ id: agentId, ownerUser: null, tenant: null, name: 'bench', type: 'autonomous', status: 'active', expiresAt: null });
  const grant = compilePermission({ id: 'bench-raw', resource: 'mcp:raw:*', actions: ['call'] });
  index.putPermission(agentId, grant.compiled);
  if (variant === 'full') {
    index.putBudget(compileBudget({ id: 'bench-budget', scope: 'agent', subject: agentId, metric: 'calls', limit: 1e12, period: 'day' }).compiled);
  }
}
console.log(JSON.stringify({ ready: `gateway-${variant}`, port, token }));
process.on('SIGTERM', () => gateway.close().then(() => process.exit(0)));
