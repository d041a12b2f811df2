import { parseArgs } from 'node:util';
import { migrateDatabase } from '../store/migrate.js';
import { CliError, loadCliConfig, type CliCommand, COMMON_OPTIONS } from './command.js';

/**
 * `portcullis migrate`: brings the configured database (SQLite or Postgres) to this release's
 * schema and says which migrations it applied. Deployments that set `database.skipMigrations`
 * run this once per upgrade instead of letting every gateway instance migrate at start.
 */
export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'migrate [--config FILE]   apply pending database migrations',
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON_OPTIONS });
    if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"; usage: portcullis migrate [--config FILE]`);
    const config = await loadCliConfig(values.config);
    const report = await migrateDatabase(config.database);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else if (report.applied.length === 0) {
      process.stdout.write(`${report.provider} ${report.target}: up to date (${report.total} of ${report.total} applied)\n`);
    } else {
      const n = report.applied.length;
      process.stdout.write(`${report.provider} ${report.target}: applied ${n} migration${n === 1 ? '' : 's'}: ${report.applied.join(', ')}\n`);
    }
    return 0;
  },
};
