import type { ServerResponse } from 'node:http';
import { serializeMessage } from '../jsonrpc/message.js';
import { formatSseEvent } from '../sse-parser.js';

/**
 * Upstream `list_changed` notifications as `/mcp` clients hear them: a change of any upstream's
 * list is a change of the merged list, so each audience gets one notification per kind and tick
 * on its 2025-era GET streams. A shared upstream session's change reaches every stream; a change
 * on a client session's own upstream session reaches that client's streams only.
 */
export class ListChanges {
  /** Every open standalone stream of the aggregated endpoint. */
  readonly everyone = new Set<ServerResponse>();
  readonly #pending = new Map<Set<ServerResponse>, Set<string>>();

  notice(method: string, audience: Set<ServerResponse>): void {
    if (!method.endsWith('/list_changed')) return;
    let methods = this.#pending.get(audience);
    if (!methods) {
      methods = new Set();
      if (this.#pending.size === 0) queueMicrotask(() => this.#flush());
      this.#pending.set(audience, methods);
    }
    methods.add(method);
  }

  close(): void {
    for (const res of this.everyone) res.end();
  }

  #flush(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [audience, methods] of pending) {
      for (const method of methods) {
        const event = formatSseEvent(serializeMessage({ kind: 'notification', method, params: undefined }));
        for (const res of audience) res.write(event);
      }
    }
  }
}
