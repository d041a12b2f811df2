import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.postgres.config.ts` writes the Postgres migrations
// (`portcullis migrate` and start-up apply them); the SQLite ones come from drizzle.config.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/postgres/{schema*,audit-schema}.ts',
  out: './drizzle/postgres',
});
