/**
 * The official SDK clients, connected and ready, for end-to-end tests. Point them at an
 * upstream fixture directly or at a gateway route; the tests stay the same.
 *
 * - SDK v1 (`@modelcontextprotocol/sdk`) always speaks the 2025 era.
 * - SDK v2 (`@modelcontextprotocol/client`) speaks 2025 by default (`era: 'legacy'`) or is
 *   pinned to 2026-07-28 (`era: 'modern'`), where elicitation arrives as `input_required`
 *   results and the SDK answers them through the same `elicitation/create` handler.
 */
import { performance } from 'node:perf_hooks';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as V1HttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as V2Client, StreamableHTTPClientTransport as V2HttpTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioTransport } from '@modelcontextprotocol/client/stdio';

export { V1Client, V2Client };

/** What a server asked in `elicitation/create` (form or URL mode), as either SDK delivers it. */
export interface ElicitParams {
  message: string;
  mode?: string;
  requestedSchema?: unknown;
  [key: string]: unknown;
}

/** The user's reply to an elicitation. (A type alias, so it fits the SDKs' index-signature result types.) */
export type ElicitAnswer = {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, string | number | boolean | string[]>;
};

export type ElicitHandler = (params: ElicitParams) => ElicitAnswer | Promise<ElicitAnswer>;

export interface ClientOptions {
  /** Answers every elicitation; defaults to accepting with `{ answer: 'portcullis' }`. */
  onElicit?: ElicitHandler;
  /** Sent on every HTTP request (e.g. `Authorization`). Ignored for stdio. */
  headers?: Record<string, string>;
}

export interface V2ClientOptions extends ClientOptions {
  /** `'legacy'` (default): 2025 `initialize` handshake. `'modern'`: pinned to 2026-07-28. */
  era?: 'modern' | 'legacy';
}

export interface Connected<C, T> {
  client: C;
  transport: T;
  /** Every elicitation this client was asked, in order. */
  elicitations: ElicitParams[];
  close(): Promise<void>;
}

export interface ConnectedStdio<C, T> extends Connected<C, T> {
  /** What the server process wrote to stderr so far. */
  stderr(): string;
}

export const CLIENT_INFO = { name: 'portcullis-test-client', version: '1.0.0' };
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const acceptPortcullis: ElicitHandler = () => ({ action: 'accept', content: { answer: 'portcullis' } });
const STDERR_LIMIT = 16 * 1024;

/** SDK v1 client over Streamable HTTP (stateful: it keeps the `Mcp-Session-Id` it is given). */
export async function connectV1(url: string | URL, opts: ClientOptions = {}): Promise<Connected<V1Client, V1HttpTransport>> {
  const transport = new V1HttpTransport(new URL(url), { requestInit: { headers: opts.headers } });
  return connectWith(createV1Client(opts), transport);
}

/** SDK v2 client over Streamable HTTP, in the era asked for. */
export async function connectV2(url: string | URL, opts: V2ClientOptions = {}): Promise<Connected<V2Client, V2HttpTransport>> {
  const transport = new V2HttpTransport(new URL(url), { requestInit: { headers: opts.headers } });
  return connectWith(createV2Client(opts), transport);
}

/** SDK v1 client that spawns `command args` and talks to it over stdio. */
export async function connectStdioV1(
  command: string,
  args: string[] = [],
  opts: ClientOptions = {},
): Promise<ConnectedStdio<V1Client, V1StdioTransport>> {
  const transport = new V1StdioTransport({ command, args, stderr: 'pipe' });
  const stderr = collectStderr(transport.stderr);
  return { ...(await connectWith(createV1Client(opts), transport)), stderr };
}

/**
 * SDK v2 client over stdio. In `'modern'` era the SDK probes with `server/discover` on a
 * throwaway sibling process first, so `command` is spawned twice.
 */
export async function connectStdioV2(
  command: string,
  args: string[] = [],
  opts: V2ClientOptions = {},
): Promise<ConnectedStdio<V2Client, V2StdioTransport>> {
  const transport = new V2StdioTransport({ command, args, stderr: 'pipe' });
  const stderr = collectStderr(transport.stderr);
  return { ...(await connectWith(createV2Client(opts), transport)), stderr };
}

export interface ProgressEvent {
  progress: number;
  total?: number;
  message?: string;
  /** `performance.now()` when the notification reached the client. */
  at: number;
}

/**
 * Collects progress notifications with arrival times. Pass `onprogress` in the call's options
 * (the SDK then adds a `progressToken`), take `now()` when the result resolves, and assert
 * every `events[i].at` is earlier: that proves progress streamed rather than arriving with the
 * result.
 */
export function collectProgress(): {
  events: ProgressEvent[];
  onprogress: (progress: { progress: number; total?: number; message?: string }) => void;
  now: () => number;
} {
  const events: ProgressEvent[] = [];
  return {
    events,
    onprogress: ({ progress, total, message }) => events.push({ progress, total, message, at: performance.now() }),
    now: () => performance.now(),
  };
}

interface AnyClient {
  connect(transport: never): Promise<void>;
  close(): Promise<void>;
}

async function connectWith<C extends AnyClient, T>(built: { client: C; elicitations: ElicitParams[] }, transport: T) {
  const { client, elicitations } = built;
  try {
    await client.connect(transport as never);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  return { client, transport, elicitations, close: () => client.close() };
}

function createV1Client(opts: ClientOptions) {
  const onElicit = opts.onElicit ?? acceptPortcullis;
  const elicitations: ElicitParams[] = [];
  const client = new V1Client(CLIENT_INFO, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params);
    return onElicit(request.params);
  });
  return { client, elicitations };
}

function createV2Client(opts: V2ClientOptions) {
  const onElicit = opts.onElicit ?? acceptPortcullis;
  const elicitations: ElicitParams[] = [];
  const client = new V2Client(CLIENT_INFO, {
    capabilities: { elicitation: { form: {} } },
    ...(opts.era === 'modern' && { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } }),
  });
  // One handler serves both eras: pushed `elicitation/create` requests (2025) and the
  // embedded requests of `input_required` results, which the client fulfils and retries (2026).
  client.setRequestHandler('elicitation/create', async (request) => {
    elicitations.push(request.params);
    return onElicit(request.params);
  });
  return { client, elicitations };
}

function collectStderr(stream: NodeJS.ReadableStream | import('node:stream').Stream | null): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-STDERR_LIMIT)));
  return () => text;
}
