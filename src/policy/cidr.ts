/**
 * IP allowlists. Every address is held as 128 bits (four 32-bit words); an IPv4 address is
 * stored IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so `10.0.0.0/8` also matches a
 * dual-stack socket's `::ffff:10.1.2.3` and one representation serves both families. Parsing
 * is strict (no leading zeros, no zone ids): a lenient parser here and a different one in front
 * of us would disagree about which address a string names.
 */

type Words = readonly [number, number, number, number];

/** A parsed CIDR block: network words already masked to `prefix` bits (of 128). */
export interface Cidr {
  readonly source: string;
  readonly words: Words;
  readonly prefix: number;
}

/** Parses `a.b.c.d[/n]` or an IPv6 block; a bare address is a single host. */
export function parseCidr(source: string): { ok: true; cidr: Cidr } | { ok: false; message: string } {
  const slash = source.indexOf('/');
  const addressText = slash === -1 ? source : source.slice(0, slash);
  const parsed = parseIpWithFamily(addressText);
  if (parsed === null) return { ok: false, message: `"${source}" is not an IP address or CIDR block` };
  const max = parsed.v4 ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const text = source.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(text) || Number(text) > max) {
      return { ok: false, message: `"${source}": prefix length must be 0..${max}` };
    }
    bits = Number(text);
  }
  const prefix = parsed.v4 ? 96 + bits : bits;
  const words = maskWords(parsed.words, prefix);
  if (words.some((w, i) => w !== parsed.words[i])) {
    return { ok: false, message: `"${source}" has host bits set below the /${bits} prefix` };
  }
  return { ok: true, cidr: Object.freeze({ source, words, prefix }) };
}

/** Parses one address to 128-bit words, or `null`. */
export function parseIp(text: string): Words | null {
  return parseIpWithFamily(text)?.words ?? null;
}

/** Whether `address` (already parsed) lies in any block of the list. */
export function isInCidrList(list: readonly Cidr[], address: Words): boolean {
  for (const cidr of list) {
    let remaining = cidr.prefix;
    let inside = true;
    for (let i = 0; i < 4 && remaining > 0; i++, remaining -= 32) {
      const mask = remaining >= 32 ? 0xffffffff : ~(0xffffffff >>> remaining) >>> 0;
      if (((address[i] & mask) >>> 0) !== cidr.words[i]) {
        inside = false;
        break;
      }
    }
    if (inside) return true;
  }
  return false;
}

function maskWords(words: Words, prefix: number): Words {
  const out: number[] = [];
  let remaining = prefix;
  for (let i = 0; i < 4; i++, remaining -= 32) {
    const mask = remaining >= 32 ? 0xffffffff : remaining <= 0 ? 0 : ~(0xffffffff >>> remaining) >>> 0;
    out.push((words[i] & mask) >>> 0);
  }
  return [out[0], out[1], out[2], out[3]];
}

function parseIpWithFamily(text: string): { v4: boolean; words: Words } | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { v4: true, words: [0, 0, 0xffff, v4] };
  const groups = parseIpv6Groups(text);
  if (groups === null) return null;
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i] << 16) | groups[i + 1]) >>> 0);
  return { v4: false, words: [words[0], words[1], words[2], words[3]] };
}

function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

function parseIpv6Groups(text: string): number[] | null {
  if (text.length === 0 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    // Embedded IPv4 in the last 32 bits (e.g. ::ffff:192.0.2.1).
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    body = text.slice(0, lastColon + 1);
    // Keep a trailing "::" (it stands for zero groups); drop the lone separator before the IPv4.
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || rest === null) return null;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1) return given === 8 ? [...head, ...tail] : null;
  if (given > 7) return null;
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
}
