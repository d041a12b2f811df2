import { describe, expect, it } from 'vitest';
import { createRateLimiter, DAY_MS, HOUR_MS, type RateRule } from '../../src/policy/index.js';

const hourly = (limit: number, key = 'g/hour'): RateRule => ({ key, limit, windowMs: HOUR_MS, label: 'hour' });
const daily = (limit: number, key = 'g/day'): RateRule => ({ key, limit, windowMs: DAY_MS, label: 'day' });
const T = 1_700_000_000_000;

describe('rate limiter', () => {
  it('allows exactly the limit, then refuses', () => {
    const rl = createRateLimiter();
    const results = Array.from({ length: 105 }, () => rl.tryConsume([hourly(100)], T));
    expect(results.filter(Boolean)).toHaveLength(100);
    expect(results.slice(100).every((r) => !r)).toBe(true);
  });

  it.each([
    ['one bucket before the hour is over', HOUR_MS - 1, false],
    ['one full hour later (the oldest bucket still overlaps)', HOUR_MS, false],
    ['an hour and a bucket later', HOUR_MS + HOUR_MS / 60, true],
  ])('rolls: %s', (_name, later, allowed) => {
    const rl = createRateLimiter();
    const start = Math.floor(T / 60_000) * 60_000; // bucket-aligned
    for (let i = 0; i < 10; i++) expect(rl.tryConsume([hourly(10)], start)).toBe(true);
    expect(rl.tryConsume([hourly(10)], start + later)).toBe(allowed);
  });

  it('never lets more than the limit through in any rolling hour', () => {
    const rl = createRateLimiter();
    const accepted: number[] = [];
    for (let t = T; t < T + 5 * HOUR_MS; t += 7_919) if (rl.tryConsume([hourly(20)], t)) accepted.push(t);
    for (let i = 0; i < accepted.length; i++) {
      const inWindow = accepted.filter((x) => x > accepted[i] - HOUR_MS && x <= accepted[i]).length;
      expect(inWindow).toBeLessThanOrEqual(20);
    }
    expect(accepted.length).toBeGreaterThan(80); // and it does not starve either
  });

  it('is all-or-nothing across rules', () => {
    const rl = createRateLimiter();
    expect(rl.tryConsume([hourly(1, 'a'), hourly(5, 'b')], T)).toBe(true);
    expect(rl.tryConsume([hourly(1, 'a'), hourly(5, 'b')], T)).toBe(false);
    expect(rl.used(hourly(5, 'b'), T)).toBe(1);
  });

  it('counts a rule named twice twice', () => {
    const rl = createRateLimiter();
    expect(rl.tryConsume([hourly(1, 'a'), hourly(1, 'a')], T)).toBe(false);
  });

  it('keeps hour and day apart', () => {
    const rl = createRateLimiter();
    for (let i = 0; i < 3; i++) expect(rl.tryConsume([hourly(5), daily(3)], T + i * HOUR_MS * 2)).toBe(true);
    expect(rl.tryConsume([hourly(5), daily(3)], T + 7 * HOUR_MS)).toBe(false);
    expect(rl.hasRoom(hourly(5), T + 7 * HOUR_MS)).toBe(true);
  });

  it('prunes idle counters', () => {
    const rl = createRateLimiter();
    rl.tryConsume([hourly(1)], T);
    rl.prune(T + 2 * HOUR_MS);
    expect(rl.used(hourly(1), T + 2 * HOUR_MS)).toBe(0);
  });
});
