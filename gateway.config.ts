import { defineConfig } from 'portcullis';

/**
 * The example configuration `npm start` runs: an embedded SQLite database and the bundled demo
 * MCP server, on http://127.0.0.1:8787/mcp/demo. See the README's config reference.
 */
export default defineConfig({
  port: 8787,
  // From the environment in real deployments; when unset, one is generated and kept in the store.
  secret: process.env.PORTCULLIS_SECRET,
  database: { provider: 'sqlite', url: './portcullis.db' },
  // Development mode: anonymous callers. Production keeps the default (true) — see README.
  oauth: { enforceAuth: false },
  servers: {
    demo: {
      transport: 'stdio',
      command: process.execPath,
      args: ['examples/demo-server.mjs'],
    },
  },
});
