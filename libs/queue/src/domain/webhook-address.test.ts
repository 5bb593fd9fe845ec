import { describe, expect, it } from 'vitest';

import { cidrContains, classifyIp, formatIp, parseCidr, parseIpLiteral, parseIpv4, parseIpv6, type AddressClass } from './webhook-address.js';

/**
 * Hand-written tables: each row is a spelling and what it must mean. They are the specification of
 * the parser and the classifier, written from RFC 4291/6890, the IANA special-purpose registries,
 * WHATWG URL's IPv4 parser and inet_aton(3).
 */
const v4 = (text: string): string | undefined => {
  const ip = parseIpv4(text);
  return ip && formatIp(ip);
};
const v6 = (text: string): string | undefined => {
  const ip = parseIpv6(text);
  return ip && formatIp(ip);
};
const cls = (text: string): AddressClass => {
  const ip = parseIpLiteral(text);
  if (!ip) throw new Error(`not an address: ${text}`);
  return classifyIp(ip).class;
};

describe('IPv4 in every form WHATWG URL and inet_aton accept', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'], // a.b: b fills three bytes
    ['127.0.1', '127.0.0.1'], // a.b.c: c fills two bytes
    ['2130706433', '127.0.0.1'], // one decimal number
    ['0x7f000001', '127.0.0.1'], // hex
    ['0X7F000001', '127.0.0.1'],
    ['017700000001', '127.0.0.1'], // octal
    ['0177.0.0.01', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7f.0.0.0x1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'], // one trailing dot
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'], // WHATWG: an empty hex number is 0
    ['4294967295', '255.255.255.255'],
    ['169.254.43518', '169.254.169.254'], // metadata endpoint spelled a.b.c
    ['2852039166', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['10.0.0.1', '10.0.0.1'],
    ['012.0.0.1', '10.0.0.1'], // octal 012 = 10
  ])('%s → %s', (text, expected) => {
    expect(v4(text)).toBe(expected);
  });

  it.each([
    ['4294967296', 'beyond 32 bits'],
    ['256.0.0.1', 'a non-final part over 255'],
    ['1.2.3.256', 'a final part over its bytes'],
    ['1.2.65536', 'a.b.c with c over 16 bits'],
    ['1.2.3.4.5', 'five parts'],
    ['08', 'an octal number with an 8'],
    ['0x1g', 'a hex number with a g'],
    ['1..2', 'an empty part'],
    ['1.2.3.4..', 'two trailing dots'],
    ['', 'nothing'],
    ['example.com', 'a name'],
    ['1e3', 'an exponent'],
    [' 1.2.3.4', 'a space'],
    ['-1', 'a sign'],
  ])('%s is refused (%s)', (text) => {
    expect(parseIpv4(text)).toBeUndefined();
  });
});

describe('IPv6 text forms', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first longest zero run is compressed
    ['fe80::1', 'fe80::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1::', '1::'],
  ])('%s → %s', (text, expected) => {
    expect(v6(text)).toBe(expected);
  });

  it.each([
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1::2::3', 'two ::'],
    ['1:::2', 'three colons'],
    [':1:2:3:4:5:6:7', 'a leading single colon'],
    ['12345::', 'a five-digit group'],
    ['fe80::1%eth0', 'a zone id'],
    ['::ffff:1.2.3', 'a short IPv4 tail'],
    ['::ffff:01.2.3.4', 'a leading zero in the IPv4 tail'],
    ['::ffff:256.1.1.1', 'an IPv4 tail part over 255'],
    ['1:2:3:4:5:6:7::1.2.3.4', 'nine groups with the tail'],
    ['g::1', 'a non-hex digit'],
    ['1.2.3.4', 'an IPv4 address'],
  ])('%s is refused (%s)', (text) => {
    expect(parseIpv6(text)).toBeUndefined();
  });
});

describe('classification', () => {
  it.each<[string, AddressClass]>([
    // IPv4 special-purpose blocks
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.63.255.255', 'public'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.0', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    // IPv6 on its own
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fec0::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'], // Teredo
    ['100::1', 'reserved'],
    ['64:ff9b:1::a00:1', 'reserved'],
    ['4000::1', 'reserved'], // outside 2000::/3
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001::200e', 'public'],
    // IPv6 that reaches an IPv4 host takes that host's class
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'loopback'], // IPv4-translated
    ['::127.0.0.1', 'loopback'], // IPv4-compatible
    ['::7f00:1', 'loopback'],
    ['::10.0.0.1', 'private'],
    ['::8.8.8.8', 'reserved'], // IPv4-compatible of a public address: deprecated, not routable
    ['::2', 'unspecified'], // ::0.0.0.2
    ['64:ff9b::127.0.0.1', 'loopback'], // NAT64
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::808:808', 'public'],
    ['2002:7f00:1::', 'loopback'], // 6to4 of 127.0.0.1
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
  ])('%s is %s', (text, expected) => {
    expect(cls(text)).toBe(expected);
  });

  it('reports the IPv4 address an IPv6 one embeds', () => {
    const c = classifyIp(parseIpLiteral('64:ff9b::a00:1')!);
    expect(c.embeddedIpv4 && formatIp(c.embeddedIpv4)).toBe('10.0.0.1');
    expect(classifyIp(parseIpLiteral('2606:4700::1')!).embeddedIpv4).toBeUndefined();
  });
});

describe('CIDR blocks', () => {
  it.each([
    ['10.0.0.0/8', '10.200.3.4', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['172.16.0.0/12', '172.31.0.1', true],
    ['172.16.0.0/12', '172.32.0.1', false],
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.2', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['fd00::/8', 'fd12::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['2001:db8::/33', '2001:db8:7fff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', false], // families differ: the policy matches the embedded IPv4 itself
  ])('%s contains %s: %s', (block, address, expected) => {
    expect(cidrContains(parseCidr(block)!, parseIpLiteral(address)!)).toBe(expected);
  });

  it.each(['10.0.0.0/33', '10.1/8', '010.0.0.0/8', '10.0.0.0/', '10.0.0.0/8/8', 'fd00::/129', 'example.com/8', '0x7f000001', ''])('"%s" is not a block', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});
