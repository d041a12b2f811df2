import { isUtf8 } from 'node:buffer';
import { RpcCode, wireError, type WireError } from '../wire-error.js';
import { countKeys, scanJson } from './json-scan.js';
import type { JsonObject, JsonRpcId, Message } from './message.js';

/**
 * `exact`: the text says what `serializeMessage(message)` says, to any parser: no member beyond the
 * known ones, and no number a parser could read differently from the value policy judged. Such a
 * request is forwarded as its own bytes; any other is re-serialised from the parsed message.
 */
export type ParseOutcome = { ok: true; message: Message; exact: boolean } | { ok: false; error: WireError };

/**
 * Decodes and validates one JSON-RPC message. Everything a parser differential could exploit is
 * refused here: invalid UTF-8, a BOM, trailing garbage, duplicate keys, `__proto__` keys, batches,
 * nesting deeper than `maxDepth`, ids that are null, fractional, objects or beyond 2^53.
 *
 * hot path: one scan, one JSON.parse, one key walk.
 */
export function parseMessage(bytes: Uint8Array, maxDepth: number): ParseOutcome {
  // Invalid UTF-8 is refused, not replaced; a BOM survives toString and JSON.parse refuses it.
  if (!isUtf8(bytes)) return reject(400, RpcCode.PARSE_ERROR, 'Parse error: body is not valid UTF-8');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return parseMessageText(text, maxDepth);
}

export function parseMessageText(text: string, maxDepth: number): ParseOutcome {
  const scan = scanJson(text, maxDepth);
  if (!scan.ok) return reject(400, RpcCode.INVALID_REQUEST, `Invalid Request: JSON nested deeper than ${maxDepth}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return reject(400, RpcCode.PARSE_ERROR, 'Parse error: body is not valid JSON');
  }
  const keys = countKeys(value);
  if (keys < 0) return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "__proto__" keys are not accepted');
  if (keys !== scan.members) return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: duplicate keys in an object');
  const outcome = validateShape(value);
  if (outcome.ok && scan.exactNumbers) outcome.exact = scan.topMembers === knownMembers(outcome.message);
  return outcome;
}

/**
 * How many top-level members `serializeMessage` writes for a request or notification. A response
 * is never exact: its error object is rebuilt from its known members too.
 */
function knownMembers(m: Message): number {
  if (m.kind === 'response') return -1;
  return (m.kind === 'request' ? 3 : 2) + (m.params === undefined ? 0 : 1);
}

function validateShape(value: unknown): ParseOutcome {
  if (Array.isArray(value)) return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: JSON-RPC batches are not supported');
  if (value === null || typeof value !== 'object') {
    return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: a JSON-RPC message must be an object');
  }
  const m = value as JsonObject;
  if (m.jsonrpc !== '2.0') return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"');
  const hasId = 'id' in m;
  if (hasId && !isValidId(m.id)) {
    return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer within ±2^53');
  }
  const id = hasId ? (m.id as JsonRpcId) : undefined;
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) {
      return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "method" must be a non-empty string', id);
    }
    if ('result' in m || 'error' in m) {
      return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: a request cannot carry "result" or "error"', id);
    }
    const params = m.params;
    if (params !== undefined && !isPlainObject(params)) {
      return reject(400, RpcCode.INVALID_PARAMS, 'Invalid params: "params" must be an object', id);
    }
    return {
      ok: true,
      message: hasId
        ? { kind: 'request', id: id!, method: m.method, params: params as JsonObject | undefined }
        : { kind: 'notification', method: m.method, params: params as JsonObject | undefined },
      exact: false,
    };
  }
  if (!hasId) return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: a message needs "method" or "id"');
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) {
    return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: a response has exactly one of "result" and "error"', id);
  }
  if (hasResult) {
    if (!isPlainObject(m.result)) return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "result" must be an object', id);
    return { ok: true, message: { kind: 'response', id: id!, result: m.result as JsonObject }, exact: false };
  }
  const e = m.error as JsonObject;
  if (!isPlainObject(e) || !Number.isInteger(e.code) || typeof e.message !== 'string') {
    return reject(400, RpcCode.INVALID_REQUEST, 'Invalid Request: "error" needs an integer "code" and a string "message"', id);
  }
  const error: { code: number; message: string; data?: unknown } = { code: e.code as number, message: e.message };
  if (e.data !== undefined) error.data = e.data;
  return { ok: true, message: { kind: 'response', id: id!, error }, exact: false };
}

function isValidId(id: unknown): boolean {
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id));
}

function isPlainObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function reject(status: number, code: number, message: string, id?: JsonRpcId): ParseOutcome {
  return { ok: false, error: wireError(status, code, message, { id: id ?? null }) };
}
