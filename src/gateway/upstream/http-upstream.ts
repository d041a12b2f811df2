import { Pool } from 'undici';
import type { HttpServerConfig } from '../../config/schema.js';
import { UpstreamAnswer, type UpstreamResponse } from './upstream-answer.js';

export type { UpstreamBody, UpstreamResponse } from './upstream-answer.js';

/**
 * One HTTP upstream: a keep-alive undici Pool and the few request shapes the MCP transport
 * needs. The configured headers (upstream credentials) are added here; the client's own
 * Authorization header never is.
 */
export interface HttpUpstream {
  readonly name: string;
  post(body: string | Uint8Array, headers: Record<string, string>, signal?: AbortSignal): Promise<UpstreamResponse>;
  get(headers: Record<string, string>, signal?: AbortSignal): Promise<UpstreamResponse>;
  delete(headers: Record<string, string>): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export function createHttpUpstream(name: string, config: HttpServerConfig): HttpUpstream {
  const url = new URL(config.url);
  const path = url.pathname + url.search;
  const pool = new Pool(url.origin, {
    connections: config.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const fixed = config.headers;
  const hasFixed = Object.keys(fixed).length > 0;

  // hot path: one handler object per request; failures are mapped by it.
  function send(
    method: 'POST' | 'GET' | 'DELETE',
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    signal: AbortSignal | undefined,
    streaming: boolean,
  ): Promise<UpstreamResponse> {
    const answer = new UpstreamAnswer(name, signal);
    pool.dispatch(
      {
        path,
        method,
        headers: hasFixed ? { ...headers, ...fixed } : headers,
        body,
        headersTimeout: config.timeoutMs,
        // A tool may stream progress for minutes; a standalone GET stream may idle forever.
        bodyTimeout: streaming ? 0 : config.timeoutMs,
      },
      answer,
    );
    return answer.response;
  }

  return {
    name,
    post: (body, headers, signal) => send('POST', headers, body, signal, false),
    get: (headers, signal) => send('GET', headers, undefined, signal, true),
    delete: (headers) => send('DELETE', headers, undefined, undefined, false),
    close: () => pool.close(),
  };
}
