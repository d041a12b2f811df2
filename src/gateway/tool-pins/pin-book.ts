import type { ToolPinningMode } from '../../config/tools-schema.js';
import type { Logger } from '../../logger.js';
import type { ToolPinRow, ToolPinsRepo } from '../../store/tool-pins-repo.js';
import { pinOf, toolDefinitionOf, type ToolDefinition } from '../../tool-pins/tool-definition.js';
import type { JsonObject, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import { createPinEvents, type PinAuditSink } from './pin-events.js';
import { createSchemaCompiler, type ArgumentsCheck } from './schema-check.js';

/** Why a call was refused at the pin check. */
export interface PinDenial {
  readonly code: 'tool_definition_changed' | 'unknown_tool' | 'schema_violation';
  readonly reason: string;
}

/** What the call gate asks of the pins. */
export interface PinGuard {
  /** hot path: two Map lookups, plus the pin's compiled argument check. */
  checkCall(server: string, tool: string, args: unknown): PinDenial | undefined;
  /** Sees an upstream's `tools/list` answer first; returns it with changed tools hidden (enforce). */
  observeList(server: string, request: RequestMessage, final: ResponseMessage): ResponseMessage | undefined;
}

export interface PinBook extends PinGuard {
  close(): void;
}

export interface PinBookOptions {
  mode: Exclude<ToolPinningMode, 'off'>;
  repo: ToolPinsRepo;
  audit?: PinAuditSink;
  clock: () => number;
  logger: Logger;
  /** How often approvals made elsewhere (the CLI, another instance) are picked up. */
  pollMs?: number;
}

interface Pin {
  hash: string;
  definition: ToolDefinition;
  /** A served definition that differs from the pin, as stored (survives restarts). */
  pendingHash: string | null;
  /** What the upstream served last in this process; undefined until a list was seen. */
  served: string | undefined;
  /** The pinned `inputSchema`, compiled on the first call: undefined = not yet, null = no check. */
  check: ArgumentsCheck | null | undefined;
}

interface ServerPins {
  pins: Map<string, Pin>;
  /** Every tool of the last complete list (all pages); undefined until one was seen. */
  listed: Set<string> | undefined;
  /** The pages of a paginated list being read. */
  collecting: Set<string> | undefined;
}

/**
 * Tool pins (rug-pull defence). Trust on first use: the first definition of a tool the gateway
 * sees in a `tools/list` answer is pinned (SHA-256 of its RFC 8785 canonical JSON). A later list
 * that serves a different definition leaves the pin as it was and records the new one as
 * pending: the tool is hidden and its calls denied until an operator approves the change
 * (`portcullis tools approve`), which this book notices within `pollMs`.
 *
 * A call before any list of its server was seen in this process is not refused as unknown: a
 * client may call a tool it learned of elsewhere, and refusing it would break clients that never
 * list. Its arguments are still checked against a pin kept from earlier runs, and a stored
 * pending change still denies it. From the first complete list on, unlisted tools are refused.
 */
export async function createPinBook(options: PinBookOptions): Promise<PinBook> {
  const { mode, repo, clock, logger } = options;
  const events = createPinEvents(options.audit, clock);
  const compile = createSchemaCompiler();
  const servers = new Map<string, ServerPins>();
  const persistFailed = (err: unknown) => logger.error({ err: (err as Error).message }, 'tool pin not stored');
  // Writes leave in the order they were decided: on a pooled store (Postgres) a pin and the
  // pending change that follows it would otherwise race on two connections, and the change
  // could reach the database before its pin and be lost.
  let writes: Promise<void> = Promise.resolve();
  const persist = (write: () => Promise<unknown>) => {
    writes = writes.then(write).then(() => undefined, persistFailed);
  };

  function serverPins(server: string): ServerPins {
    let state = servers.get(server);
    if (!state) servers.set(server, (state = { pins: new Map(), listed: undefined, collecting: undefined }));
    return state;
  }

  function load(row: ToolPinRow): void {
    const pins = serverPins(row.server).pins;
    const known = pins.get(row.tool);
    if (!known) {
      pins.set(row.tool, { hash: row.hash, definition: JSON.parse(row.definition) as ToolDefinition, pendingHash: row.pendingHash, served: undefined, check: undefined });
      return;
    }
    known.pendingHash = row.pendingHash;
    if (known.hash === row.hash) return;
    // Approved elsewhere: the new pin replaces the old, and its schema is compiled afresh.
    events.approved(row.server, row.tool, row.approvedBy, known.hash, row.hash);
    logger.info({ server: row.server, tool: row.tool, by: row.approvedBy }, 'tool definition approved');
    known.hash = row.hash;
    known.definition = JSON.parse(row.definition) as ToolDefinition;
    known.check = undefined;
  }

  for (const row of await repo.list()) load(row);
  let stamp = await repo.stamp();
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    void (async () => {
      const now = await repo.stamp();
      if (now === stamp) return;
      stamp = now;
      for (const row of await repo.list()) load(row);
    })()
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'tool pins not reloaded'))
      .finally(() => (polling = false));
  }, options.pollMs ?? 1000);
  timer.unref();

  const blocked = (pin: Pin) => (pin.served ?? pin.pendingHash ?? pin.hash) !== pin.hash;

  /** Compares one listed tool with its pin; true when it must be hidden. */
  function observeTool(server: string, pins: Map<string, Pin>, name: string, tool: JsonObject): boolean {
    const definition = toolDefinitionOf(tool);
    const { hash, canonical } = pinOf(definition);
    const pin = pins.get(name);
    const at = clock();
    if (!pin) {
      pins.set(name, { hash, definition, pendingHash: null, served: hash, check: undefined });
      persist(() => repo.insertIfAbsent({ server, tool: name, hash, definition: canonical, approvedAt: at, approvedBy: 'first-seen', updatedAt: at }));
      return false;
    }
    pin.served = hash;
    if (hash === pin.hash) {
      if (pin.pendingHash !== null) {
        // The upstream went back to the approved definition: nothing is left to approve.
        pin.pendingHash = null;
        persist(() => repo.setPending(server, name, null, at));
      }
      return false;
    }
    if (pin.pendingHash !== hash) {
      pin.pendingHash = hash;
      persist(() => repo.setPending(server, name, { hash, definition: canonical }, at));
      events.changed(server, name, pin.hash, hash);
      logger.warn({ server, tool: name, pinned: pin.hash, served: hash, mode }, `tool definition changed; review with: portcullis tools diff ${server} ${name}`);
    }
    return mode === 'enforce';
  }

  function refuse(denial: PinDenial, server: string, tool: string): PinDenial | undefined {
    if (mode === 'enforce') return denial;
    logger.warn({ server, tool, code: denial.code }, `tool pin check failed (warn mode): ${denial.reason}`);
    return undefined;
  }

  return {
    checkCall(server, tool, args) {
      const state = servers.get(server);
      if (!state) return undefined;
      const pin = state.pins.get(tool);
      if (state.listed && !state.listed.has(tool)) {
        return refuse({ code: 'unknown_tool', reason: `tool ${server}.${tool} denied: ${server} does not list it` }, server, tool);
      }
      if (!pin) return undefined;
      if (blocked(pin)) {
        const reason = `tool ${server}.${tool} denied: its definition changed since it was approved (portcullis tools diff ${server} ${tool})`;
        return refuse({ code: 'tool_definition_changed', reason }, server, tool);
      }
      if (pin.check === undefined) pin.check = compile(pin.definition.inputSchema) ?? null;
      const wrong = pin.check?.(args);
      return wrong === undefined ? undefined : refuse({ code: 'schema_violation', reason: `tool ${server}.${tool} denied: arguments violate its input schema: ${wrong}` }, server, tool);
    },

    observeList(server, request, final) {
      const tools = final.result?.tools;
      if (!Array.isArray(tools)) return undefined;
      const state = serverPins(server);
      const names = new Set<string>();
      const visible: unknown[] = [];
      for (const tool of tools) {
        const name = (tool as JsonObject | null)?.name;
        if (typeof name !== 'string') {
          visible.push(tool);
          continue;
        }
        names.add(name);
        if (!observeTool(server, state.pins, name, tool as JsonObject)) visible.push(tool);
      }
      // A list read page by page is complete at its last page (no nextCursor).
      if (request.params?.cursor === undefined) state.collecting = names;
      else for (const name of names) (state.collecting ??= new Set()).add(name);
      if (final.result?.nextCursor === undefined || final.result.nextCursor === null) {
        state.listed = state.collecting ?? names;
        state.collecting = undefined;
      }
      return visible.length === tools.length ? undefined : { ...final, result: { ...final.result, tools: visible } };
    },

    close() {
      clearInterval(timer);
    },
  };
}
