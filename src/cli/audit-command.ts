import { CliError, type CliCommand } from './command.js';
import { runAuditExport } from './audit-export.js';
import { runAuditQuery } from './audit-query.js';
import { runAuditTail } from './audit-tail.js';
import { runAuditVerify } from './audit-verify.js';

const FILTERS = '[--agent A] [--user U] [--server S] [--tool T] [--decision allow|deny] [--from ISO] [--to ISO]';

/** The subcommands, each with its usage line. */
const SUBCOMMANDS: Readonly<Record<string, { usage: string; run: (argv: string[]) => Promise<number> }>> = {
  verify: { usage: 'audit verify [--config FILE] [--json]', run: runAuditVerify },
  query: { usage: `audit query ${FILTERS} [--limit N] [--cursor C] [--json]`, run: runAuditQuery },
  export: { usage: `audit export --format jsonl|csv ${FILTERS} [--out FILE]`, run: runAuditExport },
  tail: { usage: `audit tail [-n N] [-f] ${FILTERS} [--json]`, run: runAuditTail },
};

/**
 * `portcullis audit verify|query|export|tail …`: reads the audit log of the gateway the config
 * describes, on read-only connections (safe while the gateway runs).
 */
export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'audit verify|query|export|tail …   verify, search, export or follow the audit log',
  async run(argv) {
    const [sub, ...rest] = argv;
    const command = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    if (!command || !Object.hasOwn(SUBCOMMANDS, sub!)) {
      throw new CliError(`${sub === undefined ? 'audit: missing subcommand' : `audit: unknown subcommand "${sub}"`}\n${usage()}`);
    }
    return command.run(rest);
  },
};

function usage(): string {
  return ['Usage:', ...Object.values(SUBCOMMANDS).map((s) => `  portcullis ${s.usage}`)].join('\n');
}
