import type { ClientBase, QueryConfig, QueryResult, QueryResultRow } from 'pg';

/**
 * A query with a client-side time limit: past `timeoutMs` it fails with "Query read timeout"
 * even if the server or the network never answers, so the audit writer rejects a batch instead
 * of hanging on it (the caller then destroys the client). `query_timeout` is honoured by
 * `pg`'s `Client.query` but missing from its type declarations, hence the one cast here.
 */
export function timedQuery<R extends QueryResultRow = QueryResultRow>(
  client: ClientBase,
  text: string,
  values: unknown[] | undefined,
  timeoutMs: number,
): Promise<QueryResult<R>> {
  return client.query<R>({ text, values, query_timeout: timeoutMs } as QueryConfig);
}
