import type { Connected, ElicitParams, V1Client, V2Client } from './clients.js';

/* The two SDKs' clients behind one shape, so every end-to-end case runs the same assertions. */

export type Progress = { progress: number; total?: number; message?: string };
export type ToolResult = Record<string, unknown>;

export interface Session {
  listToolNames(): Promise<string[]>;
  callTool(name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void): Promise<ToolResult>;
  elicitations: ElicitParams[];
  describe(): { era?: string; protocolVersion?: string; sessionId?: string };
  close(): Promise<void>;
}

export function fromV1(c: Connected<V1Client, unknown>): Session {
  return {
    listToolNames: async () => (await c.client.listTools()).tools.map((tool) => tool.name),
    callTool: (name, args, onprogress) => c.client.callTool({ name, arguments: args }, undefined, { onprogress }),
    elicitations: c.elicitations,
    describe: () => ({ sessionId: sessionIdOf(c.transport) }),
    close: c.close,
  };
}

export function fromV2(c: Connected<V2Client, unknown>): Session {
  return {
    listToolNames: async () => (await c.client.listTools()).tools.map((tool) => tool.name),
    callTool: (name, args, onprogress) => c.client.callTool({ name, arguments: args }, { onprogress }),
    elicitations: c.elicitations,
    describe: () => ({
      era: c.client.getProtocolEra(),
      protocolVersion: c.client.getNegotiatedProtocolVersion(),
      sessionId: sessionIdOf(c.transport),
    }),
    close: c.close,
  };
}

// Only the HTTP transports have one.
function sessionIdOf(transport: unknown): string | undefined {
  return (transport as { sessionId?: string }).sessionId;
}

export function textOf(result: ToolResult): string {
  const [first] = result.content as Array<{ type: string; text: string }>;
  return first.text;
}

