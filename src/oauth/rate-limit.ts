import { LRUCache } from 'lru-cache';

/** A fixed-window counter per key (client IP), bounded in memory. */
export interface RateLimiter {
  /** Counts one hit; false once the key is over its limit for the current window. */
  take(key: string): boolean;
  /** Whether the key is already over its limit, without counting a hit. */
  exceeded(key: string): boolean;
}

export function createRateLimiter(options: { limit: number; windowMs: number; clock: () => number; maxKeys?: number }): RateLimiter {
  if (options.limit <= 0 || options.windowMs <= 0) throw new RangeError('limit and windowMs must be positive');
  const windows = new LRUCache<string, { start: number; count: number }>({ max: options.maxKeys ?? 10_000 });
  return {
    take(key) {
      const now = options.clock();
      const w = windows.get(key);
      if (!w || now - w.start >= options.windowMs) {
        windows.set(key, { start: now, count: 1 });
        return true;
      }
      w.count += 1;
      return w.count <= options.limit;
    },
    exceeded(key) {
      const w = windows.get(key);
      return w !== undefined && options.clock() - w.start < options.windowMs && w.count >= options.limit;
    },
  };
}
