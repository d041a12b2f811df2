import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../authenticate.js';
import type { FinalHook } from '../client-stream.js';
import type { Message, RequestMessage } from '../jsonrpc/message.js';
import type { ClientSession } from '../sessions.js';

/** What one client request to `/mcp/{server}` carries once it is authenticated and parsed. */
export interface McpContext {
  readonly server: string;
  /** The identity sessions are bound to (`anonymous` in dev mode). */
  readonly principal: string;
  /** The verified token's claims (agent, client, scopes), absent for test authenticators. */
  readonly identity: Identity | undefined;
  /** Hears the final response of a gated call (policy settlement, audit outcome). */
  readonly outcome?: FinalHook;
  /**
   * The request's own bytes, when they say exactly what its parsed message says (`exact` from
   * parseMessage): forwarded as they came instead of re-serialised. Absent once a route rewrites
   * the message.
   */
  readonly body?: Uint8Array;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/**
 * hot path: every context is built by this one literal, so all share one shape (a spread measured
 * several times slower, and contexts of mixed shapes make the routes' property reads polymorphic).
 */
export function mcpContext(
  server: string,
  who: { readonly principal: string; readonly identity?: Identity },
  req: IncomingMessage,
  res: ServerResponse,
  body: Uint8Array | undefined,
  outcome: FinalHook | undefined,
): McpContext {
  return { server, principal: who.principal, identity: who.identity, req, res, body, outcome };
}

export interface RouteHealth {
  name: string;
  transport: 'http' | 'stdio';
  state: string;
  /** The shared child's process id (stdio). */
  pid?: number;
}

/**
 * How the gateway serves one registered server, in both protocol eras. The HTTP route forwards
 * 2025-era sessions one-to-one; the stdio route multiplexes every client over a shared child.
 */
export interface ServerRoute {
  readonly name: string;
  /** 2025-era `initialize` (no session yet): opens a session and answers with its id. */
  initialize(ctx: McpContext, request: RequestMessage, version: string): Promise<void>;
  /** 2025-era request, notification or response on an existing session. */
  sessionMessage(ctx: McpContext, session: ClientSession, message: Message): Promise<void>;
  /** 2025-era standalone GET stream. */
  openStream(ctx: McpContext, session: ClientSession): Promise<void>;
  /** 2025-era DELETE. */
  endSession(ctx: McpContext, session: ClientSession): Promise<void>;
  /** 2026-07-28 stateless request or notification. */
  modern(ctx: McpContext, message: Message, version: string): Promise<void>;
  health(): RouteHealth;
  close(): Promise<void>;
}
