import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate` writes the SQL migrations the gateway applies at start-up.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/store/{schema*,audit-schema}.ts',
  out: './drizzle/sqlite',
});
