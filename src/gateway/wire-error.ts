import type { ServerResponse } from 'node:http';
import { isPortcullisError } from '../errors.js';
import type { JsonRpcId } from './jsonrpc/message.js';

/** JSON-RPC error codes the gateway sends. -32000..-32019 are implementation-defined (MCP spec). */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** The upstream server is down, crashed or unreachable. */
  UPSTREAM_UNAVAILABLE: -32010,
  UPSTREAM_TIMEOUT: -32011,
  /** The upstream answered with something that is not valid MCP. */
  UPSTREAM_PROTOCOL: -32012,
  /** No valid token (HTTP 401 with an RFC 9728 challenge). */
  UNAUTHORIZED: -32013,
  /** A valid token without what this call needs (HTTP 403, e.g. insufficient_scope). */
  FORBIDDEN: -32014,
  /** Policy denied the call; `data.reason` is the reason code (`no_permission`, `budget_exhausted`, …). */
  POLICY_DENIED: -32015,
  /** The audit log cannot be written: the call is refused rather than forwarded unaudited. */
  AUDIT_UNAVAILABLE: -32016,
  /** The gateway's store (sessions, budget leases on Postgres) cannot be reached: refused, fail closed. */
  STORE_UNAVAILABLE: -32017,
  HEADER_MISMATCH: -32020,
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
} as const;

/**
 * An error as it goes on the wire: an HTTP status and a JSON-RPC error object. This is the only
 * error shape ever serialised; local errors are mapped here by `toWireError`.
 */
export interface WireError {
  status: number;
  code: number;
  message: string;
  data?: unknown;
  /** The id of the request it answers, when the request got far enough to have one. */
  id?: JsonRpcId | null;
  headers?: Record<string, string>;
}

export function wireError(status: number, code: number, message: string, extra?: Partial<WireError>): WireError {
  return { status, code, message, ...extra };
}

/** Maps a local failure while serving `server` to the wire. Unknown errors become -32603. */
export function toWireError(err: unknown, server: string, id?: JsonRpcId | null): WireError {
  if (isPortcullisError(err)) {
    switch (err.code) {
      case 'UPSTREAM_UNAVAILABLE':
      case 'UPSTREAM_CLOSED':
        return wireError(502, RpcCode.UPSTREAM_UNAVAILABLE, `upstream ${server} is unavailable: ${err.message}`, { id });
      case 'UPSTREAM_TIMEOUT':
        return wireError(504, RpcCode.UPSTREAM_TIMEOUT, `upstream ${server} timed out: ${err.message}`, { id });
      case 'UPSTREAM_PROTOCOL':
      case 'RESPONSE_TOO_LARGE':
        return wireError(502, RpcCode.UPSTREAM_PROTOCOL, `upstream ${server} sent an invalid answer: ${err.message}`, { id });
      case 'STORE_FAILURE':
        return wireError(503, RpcCode.STORE_UNAVAILABLE, `the gateway's store is unavailable: ${err.message}`, { id, data: { reason: 'store_unavailable' } });
      default:
        return wireError(503, RpcCode.INTERNAL_ERROR, `gateway unavailable: ${err.message}`, { id });
    }
  }
  return wireError(500, RpcCode.INTERNAL_ERROR, 'internal gateway error', { id });
}

export function serializeWireError(err: WireError): string {
  const error: { code: number; message: string; data?: unknown } = { code: err.code, message: err.message };
  if (err.data !== undefined) error.data = err.data;
  return JSON.stringify({ jsonrpc: '2.0', id: err.id ?? null, error });
}

/** Writes the error as the whole HTTP response (when no header has gone out yet). */
export function sendWireError(res: ServerResponse, err: WireError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = serializeWireError(err);
  res.writeHead(err.status, {
    ...err.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
