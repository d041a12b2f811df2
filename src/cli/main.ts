import { isPortcullisError } from '../errors.js';
import { VERSION } from '../version.js';
import { CliError, type CliCommand } from './command.js';

/**
 * Every command, in the order the help lists them, loaded only when it runs: a one-shot command
 * such as `audit verify` does not pay for loading the whole gateway.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<CliCommand>]> = [
  ['start', async () => (await import('./start.js')).startCommand],
  ['agents', async () => (await import('./policy-agents.js')).agentsCommand],
  ['grant', async () => (await import('./policy-grant.js')).grantCommand],
  ['revoke', async () => (await import('./policy-revoke.js')).revokeCommand],
  ['delegate', async () => (await import('./policy-delegate.js')).delegateCommand],
  ['budget', async () => (await import('./policy-budget.js')).budgetCommand],
  ['explain', async () => (await import('./policy-explain.js')).explainCommand],
  ['audit', async () => (await import('./audit-command.js')).auditCommand],
  ['tools', async () => (await import('./tools-command.js')).toolsCommand],
  ['keys', async () => (await import('./keys-command.js')).keysCommand],
  ['migrate', async () => (await import('./migrate-command.js')).migrateCommand],
  ['hash-password', async () => (await import('./hash-password.js')).hashPasswordCommand],
];

async function help(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map(([, load]) => load()));
  const lines = commands.map((c) => `  portcullis ${c.summary}`);
  return `portcullis ${VERSION} — an MCP gateway: OAuth, per-call policy, audit, streaming forwarding

Usage:
${lines.join('\n')}
  portcullis --help | --version

Every command takes --config FILE (gateway.config.ts, .mjs, .js or .json; default ./gateway.config.ts).
`;
}

/** Runs the CLI; returns the process exit code (`start` resolves only when the gateway stops). */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(await help());
    return 0;
  }
  if (first === undefined) return usageError('no command given');
  const entry = COMMANDS.find(([name]) => name === first);
  if (!entry) return usageError(first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`);
  try {
    return await (await entry[1]()).run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      return err.exitCode;
    }
    if (isPortcullisError(err)) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      return 1;
    }
    // parseArgs' own errors (unknown flag, missing value) are usage errors.
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`portcullis: ${err.message}\n\n${await help()}`);
      return 2;
    }
    throw err;
  }
}

async function usageError(message: string): Promise<number> {
  // The help goes to stderr with the reason, not into piped output.
  process.stderr.write(`portcullis: ${message}\n\n${await help()}`);
  return 2;
}
