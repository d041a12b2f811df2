import { LRUCache } from 'lru-cache';
import type { PolicyAction } from './types.js';

/**
 * The one module that knows about lru-cache. It holds the static part of decisions (resolved
 * chain, matching grants per hop, budgets) keyed by grants version, agent, action and target;
 * everything that depends on the call or the clock is evaluated on every call.
 */
export interface DecisionCache<V extends object> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  clear(): void;
  readonly size: number;
}

/** Options of the decision cache. */
export interface DecisionCacheOptions {
  /** Entries kept; one per (agent, action, server, tool) in use. */
  readonly max?: number;
}

/** Creates a bounded LRU; fails at construction on a bad size (house style §4). */
export function createDecisionCache<V extends object>(options: DecisionCacheOptions = {}): DecisionCache<V> {
  const max = options.max ?? 100_000;
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`decision cache max must be a positive integer, got ${max}`);
  const lru = new LRUCache<string, V>({ max });
  return {
    get: (key) => lru.get(key),
    set: (key, value) => void lru.set(key, value),
    clear: () => lru.clear(),
    get size() {
      return lru.size;
    },
  };
}

/**
 * The cache key. Every part but the last carries its length, so no agent id, server or tool
 * name (all caller-influenced strings) can be chosen to collide with another combination.
 * The version comes first: after any grant change, old keys are simply never asked for again.
 */
// hot path: one string concatenation.
export function decisionKey(version: number, agentId: string, action: PolicyAction, server: string, tool: string): string {
  return `${version}|${action}|${agentId.length}|${agentId}|${server.length}|${server}|${tool}`;
}
