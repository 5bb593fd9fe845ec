/**
 * IP addresses as webhook targets: parsing every textual form a URL host or a resolver can carry,
 * and classifying an address by where it points. Pure functions, no I/O; the policy
 * (`webhook-policy.ts`) turns a class into allowed/refused.
 */

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/**
 * Where an address points, for the webhook policy:
 * - `public`: globally routable unicast.
 * - `loopback`: 127/8, ::1.
 * - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16).
 * - `cgnat`: shared address space 100.64/10 (carrier-grade NAT, often cloud-internal).
 * - `unique-local`: fc00::/7, and the deprecated site-local fec0::/10.
 * - `link-local`: 169.254/16 (cloud metadata endpoints live here), fe80::/10.
 * - `unspecified`: 0.0.0.0/8 ("this network": connecting to 0.0.0.0 reaches the local host), ::.
 * - `multicast`: 224/4, ff00::/8.
 * - `broadcast`: 255.255.255.255.
 * - `reserved`: special-purpose or unallocated space no receiver lives in (documentation and
 *   benchmarking nets, 240/4, 192.0.0/24, Teredo and the rest of 2001::/23, 100::/64,
 *   64:ff9b:1::/48, anything outside 2000::/3), and IPv4-compatible IPv6 (::a.b.c.d) of a
 *   public IPv4 (deprecated by RFC 4291, not routable).
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'unique-local'
  | 'link-local'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved';

/** Every address class, for tables and docs. */
export const ADDRESS_CLASSES: readonly AddressClass[] = ['public', 'loopback', 'private', 'cgnat', 'unique-local', 'link-local', 'unspecified', 'multicast', 'broadcast', 'reserved'];

/** The classification of one address, with the IPv4 address an IPv6 one embeds when that decided it. */
export interface AddressClassification {
  readonly class: AddressClass;
  /** Set for IPv4-mapped/-compatible/-translated, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses. */
  readonly embeddedIpv4?: IpAddress;
}

/**
 * Parses an IPv4 address in every form the WHATWG URL host parser and `inet_aton` accept: one to
 * four parts separated by dots, each decimal, hex (`0x7f`) or octal (`0177`), the last part
 * filling the remaining bytes (`127.1`, `2130706433`, `0x7f000001`), one trailing dot allowed.
 * Returns undefined for anything else (including out-of-range parts).
 */
export function parseIpv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIpv4Number(part);
    if (n === undefined) return undefined;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (4 - numbers.length)) return undefined;
  let value = last;
  numbers.forEach((n, i) => (value += n * 256 ** (3 - i)));
  return { family: 4, bytes: Uint8Array.of(value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255) };
}

/** One part of an IPv4 address: decimal, `0x` hex or `0`-prefixed octal (WHATWG "IPv4 number"). */
function parseIpv4Number(part: string): number | undefined {
  if (part === '') return undefined;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(digits)) {
    digits = digits.slice(2);
    radix = 16;
  } else if (digits.length > 1 && digits.startsWith('0')) {
    digits = digits.slice(1);
    radix = 8;
  }
  if (digits === '') return 0;
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return undefined;
  const n = parseInt(digits, radix);
  // Anything beyond 2^32 is out of range for every part; stop before precision is lost.
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : undefined;
}

/**
 * Parses an IPv6 address (RFC 4291 text: eight hex groups, one `::`, an optional dotted IPv4 tail
 * such as `::ffff:127.0.0.1`), with or without URL brackets. Zone ids (`fe80::1%eth0`) are
 * refused: a URL cannot carry one and a policy cannot vet one.
 */
export function parseIpv6(text: string): IpAddress | undefined {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.length < 2 || s.length > 45 || !/^[0-9a-f:.]+$/i.test(s)) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    // Only dotted-quad decimal here (no inet_aton shorthand), as RFC 4291 and WHATWG require.
    const v4 = s.slice(lastColon + 1);
    if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(v4)) return undefined;
    const octets = v4.split('.').map(Number);
    if (octets.some((o) => o > 255) || v4.split('.').some((o) => o.length > 1 && o.startsWith('0'))) return undefined;
    tail = [((octets[0] as number) << 8) | (octets[1] as number), ((octets[2] as number) << 8) | (octets[3] as number)];
    // Keep a "::" that ends the prefix ("::1.2.3.4"), drop a single separating ":" ("::ffff:1.2.3.4").
    const prefix = s.slice(0, lastColon + 1);
    s = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string | undefined): number[] | undefined => {
    if (half === undefined || half === '') return [];
    const out: number[] = [];
    for (const g of half.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const rest = groupsOf(halves[1]);
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  } else {
    if (explicit !== 8) return undefined;
    groups = [...head, ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  return { family: 6, bytes };
}

/** An address literal of either family (IPv6 with or without brackets), else undefined. */
export function parseIpLiteral(text: string): IpAddress | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed). */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i] as number) << 8) | (b[2 * i + 1] as number));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** A CIDR block (`10.0.0.0/8`, `fd00::/8`); a bare address is a /32 or /128. */
export interface Cidr {
  readonly network: IpAddress;
  readonly prefixLength: number;
}

/** Parses `address[/length]`; undefined when malformed or the length exceeds the family's bits. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr = '', len, ...extra] = text.trim().split('/');
  if (extra.length) return undefined;
  const network = addr.includes(':') ? parseIpv6(addr) : parseStrictIpv4(addr);
  if (!network) return undefined;
  const bits = network.family === 4 ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefixLength = len === undefined ? bits : Number(len);
  if (prefixLength > bits) return undefined;
  return { network, prefixLength };
}

/** Configuration takes dotted quads only: `10.1` in an allow-list is a typo, not 10.0.0.1. */
function parseStrictIpv4(text: string): IpAddress | undefined {
  return /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text) ? parseIpv4(text) : undefined;
}

/** Whether `ip` lies in `cidr` (families must match; an IPv4-mapped IPv6 is not an IPv4 here). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.network.family !== ip.family) return false;
  let remaining = cidr.prefixLength;
  for (let i = 0; remaining > 0; i++, remaining -= 8) {
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    if (((cidr.network.bytes[i] as number) & mask) !== ((ip.bytes[i] as number) & mask)) return false;
  }
  return true;
}

/** The IPv4 address an IPv6 address carries in `bytes[from..from+4)`. */
function embedded(ip: IpAddress, from: number): IpAddress {
  return { family: 4, bytes: ip.bytes.slice(from, from + 4) };
}

const cidr = (text: string): Cidr => parseCidr(text) as Cidr;

/** IPv4 special-purpose blocks (IANA registry, those no receiver lives in), first match wins. */
const IPV4_TABLE: ReadonlyArray<readonly [Cidr, AddressClass]> = [
  [cidr('0.0.0.0/8'), 'unspecified'],
  [cidr('10.0.0.0/8'), 'private'],
  [cidr('100.64.0.0/10'), 'cgnat'],
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('169.254.0.0/16'), 'link-local'],
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.0.0.0/24'), 'reserved'],
  [cidr('192.0.2.0/24'), 'reserved'],
  [cidr('192.88.99.0/24'), 'reserved'],
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('198.18.0.0/15'), 'reserved'],
  [cidr('198.51.100.0/24'), 'reserved'],
  [cidr('203.0.113.0/24'), 'reserved'],
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('255.255.255.255/32'), 'broadcast'],
  [cidr('240.0.0.0/4'), 'reserved'],
];

/** IPv6 blocks classified on their own (`::`, `::1` and the embedding forms are handled first). */
const IPV6_TABLE: ReadonlyArray<readonly [Cidr, AddressClass]> = [
  [cidr('64:ff9b:1::/48'), 'reserved'],
  [cidr('100::/64'), 'reserved'],
  [cidr('2001::/23'), 'reserved'],
  [cidr('2001:db8::/32'), 'reserved'],
  [cidr('fc00::/7'), 'unique-local'],
  [cidr('fe80::/10'), 'link-local'],
  [cidr('fec0::/10'), 'unique-local'],
  [cidr('ff00::/8'), 'multicast'],
  [cidr('2000::/3'), 'public'],
];

/** IPv6 prefixes that embed an IPv4 address, and where its 4 bytes start. */
const IPV6_EMBEDDINGS: ReadonlyArray<readonly [Cidr, number, 'mapped' | 'compatible']> = [
  [cidr('::ffff:0:0/96'), 12, 'mapped'], // IPv4-mapped
  [cidr('::ffff:0:0:0/96'), 12, 'mapped'], // IPv4-translated (SIIT)
  [cidr('64:ff9b::/96'), 12, 'mapped'], // NAT64 well-known prefix: the gateway connects to the IPv4
  [cidr('2002::/16'), 2, 'mapped'], // 6to4: the relay tunnels to the IPv4
  [cidr('::/96'), 12, 'compatible'], // IPv4-compatible (deprecated)
];

/**
 * Classifies an address. IPv6 forms that reach an IPv4 host (mapped, translated, NAT64's
 * 64:ff9b::/96, 6to4's 2002::/16) take the class of the IPv4 address they carry, so
 * `::ffff:127.0.0.1`, `::ffff:7f00:1`, `64:ff9b::a00:1` and `2002:a9fe:a9fe::` are as forbidden as
 * 127.0.0.1, 10.0.0.1 and 169.254.169.254; IPv4-compatible `::a.b.c.d` takes a non-public embedded
 * class and is otherwise `reserved`.
 */
export function classifyIp(ip: IpAddress): AddressClassification {
  if (ip.family === 4) {
    for (const [block, cls] of IPV4_TABLE) if (cidrContains(block, ip)) return { class: cls };
    return { class: 'public' };
  }
  if (ip.bytes.every((b, i) => b === 0 || (i === 15 && b === 1))) return { class: ip.bytes[15] === 1 ? 'loopback' : 'unspecified' };
  for (const [block, at, kind] of IPV6_EMBEDDINGS) {
    if (!cidrContains(block, ip)) continue;
    const v4 = embedded(ip, at);
    const inner = classifyIp(v4).class;
    return { class: kind === 'compatible' && inner === 'public' ? 'reserved' : inner, embeddedIpv4: v4 };
  }
  for (const [block, cls] of IPV6_TABLE) if (cidrContains(block, ip)) return { class: cls };
  return { class: 'reserved' };
}
