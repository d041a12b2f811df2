import { isPortcullisError } from '../errors.js';
import { VERSION } from '../version.js';
import { auditCommand } from './audit-command.js';
import { CliError, type CliCommand } from './command.js';
import { hashPasswordCommand } from './hash-password.js';
import { agentsCommand } from './policy-agents.js';
import { budgetCommand } from './policy-budget.js';
import { delegateCommand } from './policy-delegate.js';
import { explainCommand } from './policy-explain.js';
import { grantCommand } from './policy-grant.js';
import { revokeCommand } from './policy-revoke.js';
import { startCommand } from './start.js';

/** Every command, in the order the help lists them. */
const COMMANDS: readonly CliCommand[] = [
  startCommand,
  agentsCommand,
  grantCommand,
  revokeCommand,
  delegateCommand,
  budgetCommand,
  explainCommand,
  auditCommand,
  hashPasswordCommand,
];

function help(): string {
  const lines = COMMANDS.map((c) => `  portcullis ${c.summary}`);
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
    process.stdout.write(help());
    return 0;
  }
  if (first === undefined) return usageError('no command given');
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) return usageError(first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`);
  try {
    return await command.run(rest);
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
      process.stderr.write(`portcullis: ${err.message}\n\n${help()}`);
      return 2;
    }
    throw err;
  }
}

function usageError(message: string): number {
  // The help goes to stderr with the reason, not into piped output.
  process.stderr.write(`portcullis: ${message}\n\n${help()}`);
  return 2;
}
