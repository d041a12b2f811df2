import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { openStore } from '../store/open-store.js';
import type { ToolPinRow } from '../store/tool-pins-repo.js';
import { diffDefinitions } from '../tool-pins/definition-diff.js';
import { CliError, loadCliConfig, printRows, type CliCommand, COMMON_OPTIONS } from './command.js';

const SUBCOMMANDS = new Set(['list', 'diff', 'approve']);
const USAGE = 'tools list [server] | diff <server> <tool> | approve <server> <tool>';

/**
 * `portcullis tools list [server]`: the pinned tools and which of them changed upstream;
 * `tools diff <server> <tool>`: the approved definition against the one the upstream serves now;
 * `tools approve <server> <tool>`: accepts the served definition as the new pin. A running
 * gateway picks the approval up within a second and audits it.
 */
export const toolsCommand: CliCommand = {
  name: 'tools',
  summary: `${USAGE}   review tool definition pins`,
  async run(argv) {
    const { values, positionals: all } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: COMMON_OPTIONS,
    });
    const [sub, ...positionals] = all;
    if (sub === undefined || !SUBCOMMANDS.has(sub)) {
      throw new CliError(sub === undefined ? `missing subcommand; usage: portcullis ${USAGE}` : `unknown subcommand "${sub}"; usage: portcullis ${USAGE}`);
    }
    const json = values.json === true;
    const config = await loadCliConfig(values.config);
    const store = await openStore(config.database);
    try {
      switch (sub) {
        case 'list': {
          if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}"; usage: portcullis ${USAGE}`);
          const rows = await store.toolPins.list(positionals[0]);
          printRows(rows.map((r) => summaryOf(r, json)), ['server', 'tool', 'status', 'hash', 'approvedBy', 'approvedAt', 'pendingSince'], json);
          return 0;
        }
        case 'diff': {
          const row = await pinFor(store.toolPins.get.bind(store.toolPins), positionals, 'diff');
          if (row.pendingDefinition === null) {
            process.stdout.write(json ? `${JSON.stringify({ ...summaryOf(row, true), changed: false })}\n` : `${row.server}.${row.tool}: unchanged since approved (sha256 ${row.hash})\n`);
            return 0;
          }
          const before = JSON.parse(row.definition) as unknown;
          const after = JSON.parse(row.pendingDefinition) as unknown;
          if (json) {
            process.stdout.write(`${JSON.stringify({ server: row.server, tool: row.tool, changed: true, approved: { hash: row.hash, definition: before }, served: { hash: row.pendingHash, definition: after } }, null, 2)}\n`);
          } else {
            process.stdout.write(`--- approved  sha256 ${row.hash}\n+++ served    sha256 ${row.pendingHash}\n${diffDefinitions(before, after).join('\n')}\n`);
          }
          return 0;
        }
        case 'approve': {
          const row = await pinFor(store.toolPins.get.bind(store.toolPins), positionals, 'approve');
          const approved = await store.toolPins.approve(row.server, row.tool, cliActor(), Date.now());
          if (!approved) throw new CliError(`${row.server}.${row.tool} has no pending change to approve`, 1);
          process.stdout.write(json ? `${JSON.stringify(summaryOf(approved, true))}\n` : `approved ${row.server}.${row.tool} (sha256 ${approved.hash})\n`);
          return 0;
        }
      }
      return 2; // unreachable: checked above
    } finally {
      await store.close();
    }
  },
};

async function pinFor(get: (server: string, tool: string) => Promise<ToolPinRow | undefined>, args: string[], verb: string): Promise<ToolPinRow> {
  if (args.length !== 2) throw new CliError(`usage: portcullis tools ${verb} <server> <tool>`);
  const [server, tool] = args;
  const row = await get(server, tool);
  if (!row) throw new CliError(`no pin for ${server}.${tool} (the gateway pins a tool when it first lists it)`, 1);
  return row;
}

function summaryOf(row: ToolPinRow, json: boolean): Record<string, unknown> {
  const when = (t: number | null) => (t === null ? null : json ? t : new Date(t).toISOString());
  return {
    server: row.server,
    tool: row.tool,
    status: row.pendingHash === null ? 'pinned' : 'changed',
    hash: json ? row.hash : row.hash.slice(0, 12),
    approvedBy: row.approvedBy,
    approvedAt: when(row.approvedAt),
    pendingSince: when(row.pendingSince),
  };
}

/** `cli:<os user>`: who approved, as the pin and the audit log record it. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
