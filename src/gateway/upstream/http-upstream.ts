import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { HttpServerConfig } from '../../config/schema.js';
import { PortcullisError } from '../../errors.js';

export type UpstreamResponse = Dispatcher.ResponseData;

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

  // hot path: the pool's own promise, with failures mapped; no async frame of its own.
  function send(
    method: 'POST' | 'GET' | 'DELETE',
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    signal: AbortSignal | undefined,
    streaming: boolean,
  ): Promise<UpstreamResponse> {
    return pool
      .request({
        path,
        method,
        headers: hasFixed ? { ...headers, ...fixed } : headers,
        body,
        signal,
        headersTimeout: config.timeoutMs,
        // A tool may stream progress for minutes; a standalone GET stream may idle forever.
        bodyTimeout: streaming ? 0 : config.timeoutMs,
      })
      .catch((err: unknown) => {
        throw mapUndiciError(err, name);
      });
  }

  return {
    name,
    post: (body, headers, signal) => send('POST', headers, body, signal, false),
    get: (headers, signal) => send('GET', headers, undefined, signal, true),
    delete: (headers) => send('DELETE', headers, undefined, undefined, false),
    close: () => pool.close(),
  };
}

function mapUndiciError(err: unknown, name: string): Error {
  if (err instanceof Error && err.name === 'AbortError') return err;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new PortcullisError('UPSTREAM_TIMEOUT', 'no answer in time', { cause: err });
  }
  const code = (err as { code?: string }).code;
  return new PortcullisError('UPSTREAM_UNAVAILABLE', code ? `${code} talking to ${name}` : String(err), { cause: err });
}
