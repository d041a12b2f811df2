/**
 * Per-grant call limits over rolling windows (`maxCallsPerHour`, `maxCallsPerDay`). A limit
 * counts every call the grant allowed, whichever tool or delegated agent made it: 100/h on
 * `mcp:github:*` is 100/h for all of github.
 *
 * Each window is split into 60 buckets and a check counts every bucket the rolling window
 * touches, the partly expired oldest one included. The count can only be too high, never too
 * low, so the limit is never overshot ("at most N in any rolling hour"); the price is that a
 * call can be refused up to one bucket (1/60 of the window) early. Memory is 61 counters per
 * limited grant, however high the limit. Check-and-consume is synchronous, hence exact.
 */

/** Window of `maxCallsPerHour`. */
export const HOUR_MS = 3_600_000;
/** Window of `maxCallsPerDay`. */
export const DAY_MS = 86_400_000;
const BUCKETS = 60;
const SLOTS = BUCKETS + 1;

/** One limit: `limit` calls per rolling `windowMs`, counted under `key` (grant id + window). */
export interface RateRule {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly label: 'hour' | 'day';
}

/** In-memory counters. Times are passed in; the limiter never reads a clock. */
export interface RateLimiter {
  /** Whether one more call fits `rule` at `now`, spending nothing. */
  hasRoom(rule: RateRule, now: number): boolean;
  /** Counts one call against every rule, or none if any is full; returns whether it counted. */
  tryConsume(rules: readonly RateRule[], now: number): boolean;
  /** Calls counted in the rolling window ending at `now` (bucket-rounded, as the check sees it). */
  used(rule: RateRule, now: number): number;
  /** Drops counters idle for a whole day, e.g. from a timer; deciding never needs it. */
  prune(now: number): void;
}

interface SlidingWindow {
  readonly bucketMs: number;
  readonly counts: Uint32Array;
  /** Bucket number (time / bucketMs) the counters have been advanced to. */
  head: number;
  total: number;
}

/** Creates an empty set of counters. */
export function createRateLimiter(): RateLimiter {
  const windows = new Map<string, SlidingWindow>();

  // hot path: one Map lookup and, at most once per bucket, a short slot sweep.
  function windowAt(rule: RateRule, now: number): SlidingWindow {
    let w = windows.get(rule.key);
    if (w === undefined || w.bucketMs !== rule.windowMs / BUCKETS) {
      w = { bucketMs: rule.windowMs / BUCKETS, counts: new Uint32Array(SLOTS), head: Math.floor(now / (rule.windowMs / BUCKETS)), total: 0 };
      windows.set(rule.key, w);
      return w;
    }
    const bucket = Math.floor(now / w.bucketMs);
    if (bucket > w.head) {
      if (bucket - w.head >= SLOTS) {
        w.counts.fill(0);
        w.total = 0;
      } else {
        // Slot b % SLOTS last held bucket b - SLOTS, which has left the window.
        for (let b = w.head + 1; b <= bucket; b++) {
          const slot = b % SLOTS;
          w.total -= w.counts[slot];
          w.counts[slot] = 0;
        }
      }
      w.head = bucket;
    }
    return w;
  }

  return {
    hasRoom(rule, now) {
      return windowAt(rule, now).total < rule.limit;
    },
    tryConsume(rules, now) {
      for (let i = 0; i < rules.length; i++) {
        // A key named twice (ids reused across owners) must find room for both calls.
        let pending = 0;
        for (let j = 0; j < i; j++) if (rules[j].key === rules[i].key) pending++;
        if (windowAt(rules[i], now).total + pending >= rules[i].limit) return false;
      }
      for (const rule of rules) {
        const w = windowAt(rule, now);
        w.counts[w.head % SLOTS]++;
        w.total++;
      }
      return true;
    },
    used(rule, now) {
      return windowAt(rule, now).total;
    },
    prune(now) {
      for (const [key, w] of windows) {
        if (Math.floor(now / w.bucketMs) - w.head >= SLOTS) windows.delete(key);
      }
    },
  };
}
