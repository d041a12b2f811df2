/** JSON-RPC 2.0 messages as MCP uses them (no batches, object params only). */
export type JsonRpcId = string | number;
export type JsonObject = Record<string, unknown>;

export interface RequestMessage {
  kind: 'request';
  id: JsonRpcId;
  method: string;
  params: JsonObject | undefined;
}

export interface NotificationMessage {
  kind: 'notification';
  method: string;
  params: JsonObject | undefined;
}

export interface ResponseMessage {
  kind: 'response';
  id: JsonRpcId | null;
  result?: JsonObject;
  error?: { code: number; message: string; data?: unknown };
}

export type Message = RequestMessage | NotificationMessage | ResponseMessage;

/**
 * Serialises a validated message from its known members only, so whatever extra members the
 * sender smuggled in never reach the other side.
 */
export function serializeMessage(m: Message): string {
  switch (m.kind) {
    case 'request':
      return m.params === undefined
        ? JSON.stringify({ jsonrpc: '2.0', id: m.id, method: m.method })
        : JSON.stringify({ jsonrpc: '2.0', id: m.id, method: m.method, params: m.params });
    case 'notification':
      return m.params === undefined
        ? JSON.stringify({ jsonrpc: '2.0', method: m.method })
        : JSON.stringify({ jsonrpc: '2.0', method: m.method, params: m.params });
    case 'response':
      return m.error !== undefined
        ? JSON.stringify({ jsonrpc: '2.0', id: m.id, error: m.error })
        : JSON.stringify({ jsonrpc: '2.0', id: m.id, result: m.result });
  }
}
