// Fills a gateway database with AGENTS agents holding PERMS_PER_AGENT permissions each, so the
// benchmark can show that a call's cost does not grow with the size of the policy store.
// Rows go in with plain prepared statements (SQLite) or multi-row INSERTs (Postgres): the
// admin service would validate each one, which is not what is being measured.
const CHUNK = 1000;

function* rows(agents, permsPerAgent, now) {
  for (let a = 0; a < agents; a++) {
    const agentId = `seed-agent-${a}`;
    const perms = [];
    for (let p = 0; p < permsPerAgent; p++) {
      perms.push([`seed-perm-${a}-${p}`, agentId, `mcp:srv${a % 100}:tool${p}`, '["call"]', 'allow', '{}', null, now, 'bench']);
    }
    yield { agent: [agentId, null, 'bench-seed', null, `seed ${a}`, 'autonomous', 'active', null, now], perms };
  }
}

/** Seeds a SQLite file (already migrated). */
export async function seedSqlite(file, agents, permsPerAgent) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const insAgent = db.prepare('insert into agents (id, user_id, client_id, tenant, name, type, status, expires_at, created_at) values (?,?,?,?,?,?,?,?,?)');
  const insPerm = db.prepare(
    'insert into permissions (id, agent_id, resource, actions, effect, constraints, expires_at, created_at, created_by) values (?,?,?,?,?,?,?,?,?)',
  );
  const tx = db.transaction((batch) => {
    for (const { agent, perms } of batch) {
      insAgent.run(agent);
      for (const p of perms) insPerm.run(p);
    }
  });
  let batch = [];
  for (const r of rows(agents, permsPerAgent, Date.now())) {
    batch.push(r);
    if (batch.length === CHUNK) (tx(batch), (batch = []));
  }
  if (batch.length) tx(batch);
  db.close();
}

/** Seeds a Postgres database (already migrated). */
export async function seedPostgres(url, agents, permsPerAgent) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const insert = async (table, columns, values) => {
    if (values.length === 0) return;
    const params = [];
    const tuples = values.map((v) => `(${v.map((x) => (params.push(x), `$${params.length}`)).join(',')})`);
    await client.query(`insert into ${table} (${columns}) values ${tuples.join(',')}`, params);
  };
  let agentsBatch = [];
  let permsBatch = [];
  const flush = async () => {
    await insert('agents', 'id, user_id, client_id, tenant, name, type, status, expires_at, created_at', agentsBatch);
    for (let i = 0; i < permsBatch.length; i += 5000) {
      await insert('permissions', 'id, agent_id, resource, actions, effect, constraints, expires_at, created_at, created_by', permsBatch.slice(i, i + 5000));
    }
    agentsBatch = [];
    permsBatch = [];
  };
  for (const { agent, perms } of rows(agents, permsPerAgent, Date.now())) {
    agentsBatch.push(agent);
    permsBatch.push(...perms);
    if (agentsBatch.length === CHUNK) await flush();
  }
  await flush();
  await client.end();
}
