import { describe, expect, it } from 'vitest';
import { isInCidrList, parseCidr, parseIp, type Cidr } from '../../src/policy/index.js';

const list = (...sources: string[]): Cidr[] =>
  sources.map((s) => {
    const r = parseCidr(s);
    if (!r.ok) throw new Error(r.message);
    return r.cidr;
  });

describe('CIDR allowlists', () => {
  it.each([
    [['10.0.0.0/8'], '10.1.2.3', true],
    [['10.0.0.0/8'], '11.0.0.1', false],
    [['192.168.1.7'], '192.168.1.7', true],
    [['192.168.1.7'], '192.168.1.8', false],
    [['0.0.0.0/0'], '203.0.113.9', true],
    [['172.16.0.0/12'], '172.31.255.255', true],
    [['172.16.0.0/12'], '172.32.0.0', false],
    // IPv4-mapped IPv6 addresses match IPv4 blocks (dual-stack sockets report these)
    [['10.0.0.0/8'], '::ffff:10.9.8.7', true],
    [['10.0.0.0/8'], '::FFFF:0a09:0807', true],
    [['10.0.0.0/8'], '::ffff:11.0.0.1', false],
    [['::ffff:0:0/96'], '1.2.3.4', true],
    // IPv6
    [['2001:db8::/32'], '2001:db8:1234::1', true],
    [['2001:db8::/32'], '2001:db9::1', false],
    [['2001:db8:0:0:0:0:0:1/128'], '2001:db8::1', true],
    [['::1'], '::1', true],
    [['::1'], '::2', false],
    [['fe80::/10'], 'febf::1', true],
    [['fe80::/10'], 'fec0::1', false],
    [['2001:db8::/32'], '10.0.0.1', false],
    [['10.0.0.0/8'], '2001:db8::1', false],
    [['2001:db8::/32', '10.0.0.0/8'], '10.0.0.1', true],
  ])('%j contains %s → %s', (blocks, ip, expected) => {
    const address = parseIp(ip);
    expect(address).not.toBeNull();
    expect(isInCidrList(list(...blocks), address!)).toBe(expected);
  });

  it.each(['10.0.0.256', '010.0.0.1', '10.0.0', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '', 'localhost', ':::', '[::1]'])(
    'refuses the address %j',
    (ip) => expect(parseIp(ip)).toBeNull(),
  );

  it.each([
    ['10.0.0.1/8', 'host bits'],
    ['10.0.0.0/33', 'prefix length'],
    ['2001:db8::/129', 'prefix length'],
    ['10.0.0.0/08', 'prefix length'],
    ['nonsense/8', 'not an IP'],
  ])('refuses the block %s', (source, message) => {
    const r = parseCidr(source);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(message);
  });
});
