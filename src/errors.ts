/**
 * Local errors: they never leave the process as they are. `gateway/wire-error.ts` is the one
 * place that turns them (and protocol rejections) into an HTTP status + JSON-RPC error.
 */
export type PortcullisErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_LOAD_FAILED'
  | 'STORE_FAILURE'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_PROTOCOL'
  | 'UPSTREAM_CLOSED'
  | 'RESPONSE_TOO_LARGE';

export class PortcullisError extends Error {
  readonly code: PortcullisErrorCode;
  constructor(code: PortcullisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PortcullisError';
    this.code = code;
  }
}

export function isPortcullisError(err: unknown, code?: PortcullisErrorCode): err is PortcullisError {
  return err instanceof PortcullisError && (code === undefined || err.code === code);
}
