import type { IncomingHttpHeaders } from 'node:http';
import type { JsonObject, Message } from './jsonrpc/message.js';
import { RpcCode, wireError, type WireError } from './wire-error.js';

/** Session-based revisions (initialize handshake, `Mcp-Session-Id`), newest first. */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18'] as const;
/** Stateless revisions (`_meta` envelope and mirrored headers on every request). */
export const MODERN_VERSIONS = ['2026-07-28'] as const;
export const SUPPORTED_VERSIONS: readonly string[] = [...MODERN_VERSIONS, ...LEGACY_VERSIONS];

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

export function isModernVersion(v: string): boolean {
  return (MODERN_VERSIONS as readonly string[]).includes(v);
}

export function isLegacyVersion(v: string): boolean {
  return (LEGACY_VERSIONS as readonly string[]).includes(v);
}

/** The version a legacy `initialize` should settle on: the client's if we speak it, else our newest. */
export function negotiateLegacyVersion(requested: unknown): string {
  return typeof requested === 'string' && isLegacyVersion(requested) ? requested : LEGACY_VERSIONS[0];
}

export type Classified =
  | { era: 'modern'; version: string }
  | { era: 'legacy'; version: string | undefined; sessionId: string | undefined };

/**
 * Decides which revision a POST speaks and checks the 2026-07-28 mirrored headers against the
 * body: the headers let intermediaries route without parsing, so a request whose headers and body
 * disagree is refused (400, -32020) rather than letting two components see two different calls.
 */
export function classifyPost(headers: IncomingHttpHeaders, message: Message): Classified | WireError {
  const headerVersion = single(headers['mcp-protocol-version']);
  const sessionId = single(headers['mcp-session-id']);
  const id = message.kind === 'notification' ? null : message.id;
  const meta = message.kind === 'response' ? undefined : (message.params?._meta as JsonObject | undefined);
  const bodyVersion = meta?.[META_PROTOCOL_VERSION];

  if (headerVersion !== undefined && !SUPPORTED_VERSIONS.includes(headerVersion)) {
    return unsupported(headerVersion, id);
  }
  const modern =
    (headerVersion !== undefined && isModernVersion(headerVersion)) ||
    (typeof bodyVersion === 'string' && isModernVersion(bodyVersion) && !sessionId);
  if (!modern) return { era: 'legacy', version: headerVersion, sessionId };

  if (message.kind === 'response') {
    return mismatch('clients do not send JSON-RPC responses in protocol 2026-07-28', id, 400, RpcCode.INVALID_REQUEST);
  }
  if (headerVersion === undefined) return mismatch('MCP-Protocol-Version header is required', id);
  if (bodyVersion !== headerVersion) {
    return typeof bodyVersion === 'string' && !SUPPORTED_VERSIONS.includes(bodyVersion)
      ? unsupported(bodyVersion, id)
      : mismatch(`MCP-Protocol-Version header ${headerVersion} does not match _meta ${String(bodyVersion)}`, id);
  }
  const method = single(headers['mcp-method']);
  if (method === undefined) return mismatch('Mcp-Method header is required', id);
  if (method !== message.method) return mismatch(`Mcp-Method header ${method} does not match body method ${message.method}`, id);
  const nameSource = nameOf(message.method, message.params);
  if (nameSource !== undefined) {
    const raw = single(headers['mcp-name']);
    if (raw === undefined) return mismatch('Mcp-Name header is required', id);
    const name = decodeHeaderValue(raw);
    if (name === undefined) return mismatch('Mcp-Name header is not a valid encoded value', id);
    if (name !== nameSource) return mismatch(`Mcp-Name header ${name} does not match body ${nameSource}`, id);
  }
  return { era: 'modern', version: headerVersion };
}

/** The body value `Mcp-Name` mirrors, for the methods that require it. */
export function nameOf(method: string, params: JsonObject | undefined): string | undefined {
  if (method === 'tools/call' || method === 'prompts/get') return typeof params?.name === 'string' ? params.name : '';
  if (method === 'resources/read') return typeof params?.uri === 'string' ? params.uri : '';
  return undefined;
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** Decodes the `=?base64?…?=` sentinel form; plain values must be visible ASCII. */
export function decodeHeaderValue(raw: string): string | undefined {
  const m = SENTINEL.exec(raw);
  if (m) return Buffer.from(m[1], 'base64').toString('utf8');
  return /^[\x20-\x7e\t]*$/.test(raw) ? raw : undefined;
}

/** Encodes a value for `Mcp-Name`, using the sentinel form where plain ASCII won't do. */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !SENTINEL.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function mismatch(
  detail: string,
  id: Message['kind'] extends never ? never : string | number | null,
  status = 400,
  code: number = RpcCode.HEADER_MISMATCH,
): WireError {
  return wireError(status, code, `Header mismatch: ${detail}`, { id });
}

function unsupported(requested: string, id: string | number | null): WireError {
  return wireError(400, RpcCode.UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version ${requested}`, {
    id,
    data: { supported: [...SUPPORTED_VERSIONS], requested },
  });
}
