import { describe, expect, it } from 'vitest';
import { compilePermission } from '../../src/policy/index.js';

const base = { id: 'g1', resource: 'mcp:github:*', actions: ['call'] };

describe('compilePermission', () => {
  it('compiles a full grant into a frozen value', () => {
    const r = compilePermission({
      ...base,
      constraints: {
        maxCallsPerHour: 100,
        maxCallsPerDay: 1000,
        args: { '/repo': { pattern: 'acme/.*' }, '/n': { min: 1, max: 5 } },
        timeWindow: { timeZone: 'Europe/Paris', days: ['mon'], hours: { from: '08:00', to: '18:00' } },
        ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'],
        requireApproval: false,
        expiresAt: 2_000_000_000_000,
      },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const g = r.compiled;
    expect(g.effect).toBe('allow');
    expect(g.rates.map((x) => [x.label, x.limit])).toEqual([['hour', 100], ['day', 1000]]);
    expect(g.expiresAt).toBe(2_000_000_000_000);
    expect(Object.isFrozen(g)).toBe(true);
    expect(Object.isFrozen(g.source.constraints.args)).toBe(true);
  });

  it('defaults: allow, no constraints, never expires', () => {
    const r = compilePermission(base);
    expect(r.ok && r.compiled).toMatchObject({ effect: 'allow', expiresAt: Infinity, window: null, args: null, ipAllowlist: null, rates: [] });
  });

  it('does not freeze or keep the caller’s objects', () => {
    const input = { ...base, constraints: { args: { '/a': { equals: { x: 1 } } } } };
    compilePermission(input);
    expect(Object.isFrozen(input.constraints.args['/a'].equals)).toBe(false);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['unknown constraint key', { constraints: { maxCallsPerHuor: 1 } }, 'constraints', 'maxCallsPerHuor'],
    ['unknown action', { actions: ['delete'] }, 'actions[0]', ''],
    ['no actions', { actions: [] }, 'actions', ''],
    ['bad pattern segment', { resource: 'mcp:github:get_*' }, 'resource', 'whole segment'],
    ['not mcp', { resource: 'http://x' }, 'resource', 'mcp:'],
    ['backreference refused by RE2', { constraints: { args: { '/a': { pattern: '(a)\\1' } } } }, 'constraints.args["/a"].pattern', 'RE2'],
    ['lookahead refused by RE2', { constraints: { args: { '/a': { pattern: '(?=a)a' } } } }, 'constraints.args["/a"].pattern', 'RE2'],
    ['pattern over the length cap', { constraints: { args: { '/a': { pattern: 'a'.repeat(513) } } } }, 'constraints.args["/a"].pattern', 'longer than 512'],
    ['bad pointer', { constraints: { args: { 'repo': { equals: 1 } } } }, 'constraints.args.repo', 'starts with "/"'],
    ['bad pointer escape', { constraints: { args: { '/a~2': { equals: 1 } } } }, 'constraints.args["/a~2"]', 'escape'],
    ['empty rule', { constraints: { args: { '/a': {} } } }, 'constraints.args["/a"]', 'at least one rule'],
    ['min above max', { constraints: { args: { '/a': { min: 5, max: 1 } } } }, 'constraints.args["/a"].min', 'greater than max'],
    ['bad CIDR', { constraints: { ipAllowlist: ['10.0.0.0/8', '300.0.0.0/8'] } }, 'constraints.ipAllowlist[1]', 'not an IP'],
    ['CIDR host bits', { constraints: { ipAllowlist: ['10.0.0.1/8'] } }, 'constraints.ipAllowlist[0]', 'host bits'],
    ['unknown zone', { constraints: { timeWindow: { timeZone: 'Nowhere/City' } } }, 'constraints.timeWindow.timeZone', 'unknown time zone'],
    ['bad hours', { constraints: { timeWindow: { hours: { from: '9', to: '17:00' } } } }, 'constraints.timeWindow.hours.from', 'HH:MM'],
    ['bad day', { constraints: { timeWindow: { days: ['funday'] } } }, 'constraints.timeWindow.days[0]', ''],
    ['zero rate', { constraints: { maxCallsPerHour: 0 } }, 'constraints.maxCallsPerHour', ''],
    ['deny with args', { effect: 'deny', constraints: { args: { '/a': { equals: 1 } } } }, 'constraints.args', 'unconditional'],
    ['deny with rate', { effect: 'deny', constraints: { maxCallsPerDay: 1 } }, 'constraints.maxCallsPerDay', 'unconditional'],
  ])('refuses %s', (_name, patch, path, message) => {
    const r = compilePermission({ ...base, ...patch });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(r.errors)).toBeDefined();
    expect(hit?.message).toContain(message);
  });

  it('reports every problem at once', () => {
    const r = compilePermission({
      ...base,
      constraints: { ipAllowlist: ['x'], timeWindow: { timeZone: 'No/Where' }, args: { '/a': { pattern: '(?<=a)' } } },
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path).sort()).toEqual(['constraints.args["/a"].pattern', 'constraints.ipAllowlist[0]', 'constraints.timeWindow.timeZone']);
  });

  it('accepts a deny that lapses', () => {
    expect(compilePermission({ ...base, effect: 'deny', constraints: { expiresAt: 5, requireApproval: false } }).ok).toBe(true);
    expect(compilePermission({ ...base, effect: 'deny', constraints: { requireApproval: true } }).ok).toBe(false);
  });
});
