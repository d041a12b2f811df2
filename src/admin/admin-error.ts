import type { PolicyInputError } from '../policy/index.js';

/**
 * Why the admin service refused a change. A closed union, so the HTTP routes and the CLI map it
 * in one place each: `INVALID_INPUT` → 400 / exit 1 (with field paths), `NOT_FOUND` → 404,
 * `CONFLICT` → 409 (duplicate id, revoked agent, quota reached).
 */
export type AdminErrorCode = 'INVALID_INPUT' | 'NOT_FOUND' | 'CONFLICT';

/** A refused admin request; `errors` name the fields (`constraints.args["/repo"].pattern`). */
export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly errors: readonly PolicyInputError[];
  /** The message without the field errors (`invalid grant`). */
  readonly summary: string;
  constructor(code: AdminErrorCode, message: string, errors: readonly PolicyInputError[] = []) {
    super(errors.length === 0 ? message : `${message}: ${errors.map(formatFieldError).join('; ')}`);
    this.name = 'AdminError';
    this.code = code;
    this.errors = errors;
    this.summary = message;
  }
}

/** `path: message`, or just the message for an error about the whole input. */
export function formatFieldError(e: PolicyInputError): string {
  return e.path === '' ? e.message : `${e.path}: ${e.message}`;
}

/** Shorthand for a 400 with field errors. */
export function invalidInput(what: string, errors: readonly PolicyInputError[]): AdminError {
  return new AdminError('INVALID_INPUT', `invalid ${what}`, errors);
}

/** Shorthand for a 404. */
export function notFound(kind: string, id: string): AdminError {
  return new AdminError('NOT_FOUND', `${kind} ${id} does not exist`);
}

/** Type guard that survives duplicated module instances (e.g. a test importing src and dist). */
export function isAdminError(err: unknown): err is AdminError {
  return err instanceof AdminError || (err instanceof Error && err.name === 'AdminError' && 'code' in err);
}
