import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from './errors.js';
import { ADDRESS_CLASSES, formatIp, parseIpLiteral, parseIpv4 } from './webhook-address.js';
import { CLASS_RULES, decideWebhookTarget, parseWebhookTarget, resolveWebhookTargetPolicy, type WebhookTargetPolicyOptions } from './webhook-policy.js';

/**
 * Hand-written tables of the webhook target policy: a URL, what its host resolves to (a stub
 * answer; address literals resolve to themselves), the policy, and the verdict. Nothing here
 * resolves or connects.
 */
type Verdict = 'allowed' | 'url' | 'scheme' | 'localhost' | 'address' | 'unresolvable';

function decide(url: string, resolved: readonly string[] | undefined, options: WebhookTargetPolicyOptions = {}): Verdict {
  const parsed = parseWebhookTarget(url);
  if (!parsed.ok) return parsed.refusal;
  const { target } = parsed;
  const addresses = target.literal ? [target.literal] : (resolved ?? []).map((a) => parseIpLiteral(a)!);
  const decision = decideWebhookTarget(resolveWebhookTargetPolicy(options), target, addresses);
  return decision.allowed ? 'allowed' : decision.refusal;
}

describe('the URL layer: what new URL() leaves of a host', () => {
  it.each([
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://017700000001/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0xA9FEA9FE/latest/meta-data', '169.254.169.254'],
    ['http://169.254.43518/', '169.254.169.254'],
    ['http://127.0.0.1./', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://LOCALHOST./', 'localhost.'],
    ['http://[::FFFF:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0::1]/', '[::1]'],
  ])('%s has hostname %s, and our IPv4 parser agrees with it', (url, hostname) => {
    expect(new URL(url).hostname).toBe(hostname);
    const raw = url.slice('http://'.length, url.indexOf('/', 'http://'.length));
    const ours = parseIpv4(raw);
    if (ours) expect(formatIp(ours)).toBe(hostname);
  });

  it('normalises the target: lowercase, no trailing dot, canonical literals, default ports', () => {
    const t = (url: string) => {
      const p = parseWebhookTarget(url);
      if (!p.ok) throw new Error(p.message);
      return [p.target.host, p.target.port, p.target.receiverKey, p.target.literal ? 'literal' : 'name'];
    };
    expect(t('https://Hooks.Example.COM./x')).toEqual(['hooks.example.com', 443, 'hooks.example.com:443', 'name']);
    expect(t('http://0x7f000001:8080/')).toEqual(['127.0.0.1', 8080, '127.0.0.1:8080', 'literal']);
    expect(t('http://[2001:DB8::0001]/')).toEqual(['2001:db8::1', 80, '[2001:db8::1]:80', 'literal']);
  });
});

describe('default policy: public addresses only', () => {
  it.each<[string, readonly string[] | undefined, Verdict]>([
    // the report that opened issue #9
    ['http://169.254.169.254/latest/meta-data', undefined, 'address'],
    ['http://127.0.0.1:6379/', undefined, 'address'],
    ['http://10.0.0.1/x', undefined, 'address'],
    ['http://0x7f000001/', undefined, 'address'],
    ['http://localhost.:8080/', undefined, 'localhost'],
    // more numeric tricks
    ['http://2130706433/', undefined, 'address'],
    ['http://017700000001/', undefined, 'address'],
    ['http://127.1/', undefined, 'address'],
    ['http://0/', undefined, 'address'],
    ['http://0.0.0.0:8080/', undefined, 'address'],
    ['http://255.255.255.255/', undefined, 'address'],
    ['http://100.64.0.1/', undefined, 'address'],
    ['http://172.16.0.1/', undefined, 'address'],
    ['http://192.168.0.1/', undefined, 'address'],
    ['http://224.0.0.1/', undefined, 'address'],
    // IPv6 literals: private forms refused, public ones allowed
    ['http://[::1]/', undefined, 'address'],
    ['http://[::]/', undefined, 'address'],
    ['http://[::ffff:127.0.0.1]/', undefined, 'address'],
    ['http://[::ffff:7f00:1]/', undefined, 'address'],
    ['http://[::ffff:a9fe:a9fe]/', undefined, 'address'],
    ['http://[::127.0.0.1]/', undefined, 'address'],
    ['http://[64:ff9b::a00:1]/', undefined, 'address'],
    ['http://[2002:a9fe:a9fe::]/', undefined, 'address'],
    ['http://[fe80::1]/', undefined, 'address'],
    ['http://[fd00::1]/', undefined, 'address'],
    ['http://[ff02::1]/', undefined, 'address'],
    ['https://[2606:4700:4700::1111]/hook', undefined, 'allowed'],
    ['http://[64:ff9b::808:808]/', undefined, 'allowed'], // NAT64 of a public IPv4
    ['http://[2002:808:808::1]/', undefined, 'allowed'], // 6to4 of a public IPv4
    // names: decided on every address they resolve to
    ['https://hooks.example.com/x', ['93.184.216.34'], 'allowed'],
    ['https://hooks.example.com/x', ['93.184.216.34', '2606:2800:220:1::1'], 'allowed'],
    ['https://hooks.example.com/x', ['93.184.216.34', '10.0.0.7'], 'address'], // ANY bad address refuses
    ['https://hooks.example.com/x', ['::ffff:127.0.0.1'], 'address'],
    ['https://hooks.example.com/x', ['169.254.169.254'], 'address'],
    ['https://hooks.example.com/x', [], 'unresolvable'],
    ['http://localhost/', ['127.0.0.1'], 'localhost'],
    ['http://api.localhost/', ['93.184.216.34'], 'localhost'], // loopback by name, whatever DNS says
    ['http://LocalHost../', undefined, 'localhost'],
    // not http(s), not a URL
    ['ftp://hooks.example.com/', undefined, 'scheme'],
    ['file:///etc/passwd', undefined, 'scheme'],
    ['gopher://127.0.0.1:6379/_INFO', undefined, 'scheme'],
    ['not a url', undefined, 'url'],
    ['http://[zz::1]/', undefined, 'url'],
  ])('%s (resolving to %j) → %s', (url, resolved, verdict) => {
    expect(decide(url, resolved)).toBe(verdict);
  });
});

describe('operator opt-ins', () => {
  const priv = { allowPrivate: true };
  it.each<[string, readonly string[] | undefined, WebhookTargetPolicyOptions, Verdict]>([
    // WEBHOOK_ALLOW_PRIVATE=1: loopback, RFC 1918, CGNAT, unique-local
    ['http://127.0.0.1:8080/hook', undefined, priv, 'allowed'],
    ['http://[::1]:8080/hook', undefined, priv, 'allowed'],
    ['http://10.0.0.1/x', undefined, priv, 'allowed'],
    ['http://100.64.1.1/x', undefined, priv, 'allowed'],
    ['http://[fd00::1]/x', undefined, priv, 'allowed'],
    ['http://[::ffff:192.168.1.10]/x', undefined, priv, 'allowed'],
    ['http://localhost:8080/', ['127.0.0.1', '::1'], priv, 'allowed'],
    ['http://receiver.internal/', ['10.1.2.3'], priv, 'allowed'],
    // …but never link-local (metadata), reserved, unspecified, multicast or broadcast
    ['http://169.254.169.254/latest/meta-data', undefined, priv, 'address'],
    ['http://[fe80::1]/', undefined, priv, 'address'],
    ['http://192.0.2.1/', undefined, priv, 'address'],
    ['http://0.0.0.0/', undefined, priv, 'address'],
    ['http://[::]/', undefined, priv, 'address'],
    ['http://224.0.0.1/', undefined, priv, 'address'],
    ['http://255.255.255.255/', undefined, priv, 'address'],
    // WEBHOOK_ALLOW_CIDRS: exactly those blocks (an embedded IPv4 counts)
    ['http://10.20.30.40/', undefined, { allowCidrs: ['10.20.0.0/16'] }, 'allowed'],
    ['http://10.21.0.1/', undefined, { allowCidrs: ['10.20.0.0/16'] }, 'address'],
    ['http://[::ffff:10.20.0.9]/', undefined, { allowCidrs: ['10.20.0.0/16'] }, 'allowed'],
    ['http://127.0.0.1:9000/', undefined, { allowCidrs: ['127.0.0.1/32'] }, 'allowed'],
    ['http://127.0.0.2:9000/', undefined, { allowCidrs: ['127.0.0.1/32'] }, 'address'],
    ['http://169.254.10.5/', undefined, { allowCidrs: ['169.254.10.5'] }, 'allowed'],
    ['http://[fd12::5]/', undefined, { allowCidrs: ['fd12::/16'] }, 'allowed'],
    ['http://0.0.0.0/', undefined, { allowCidrs: ['0.0.0.0/0'] }, 'address'], // never means never
    ['http://hooks.corp/', ['10.9.9.9', '10.20.0.1'], { allowCidrs: ['10.20.0.0/16'] }, 'address'], // every address must pass
    // WEBHOOK_ALLOW_HOSTS: a named host may resolve anywhere (still a unicast address)
    ['http://hooks.corp.internal/', ['10.9.9.9'], { allowHosts: ['hooks.corp.internal'] }, 'allowed'],
    ['http://HOOKS.corp.internal./', ['169.254.1.1'], { allowHosts: ['hooks.corp.internal'] }, 'allowed'],
    ['http://other.corp.internal/', ['10.9.9.9'], { allowHosts: ['hooks.corp.internal'] }, 'address'],
    ['http://a.b.corp.internal/', ['10.9.9.9'], { allowHosts: ['*.corp.internal'] }, 'allowed'],
    ['http://corp.internal/', ['10.9.9.9'], { allowHosts: ['*.corp.internal'] }, 'address'], // *. means subdomains only
    ['http://evilcorp.internal/', ['10.9.9.9'], { allowHosts: ['*.corp.internal'] }, 'address'],
    ['http://hooks.corp.internal/', ['0.0.0.0'], { allowHosts: ['hooks.corp.internal'] }, 'address'],
    ['http://localhost:8080/', ['127.0.0.1'], { allowHosts: ['localhost'] }, 'allowed'],
  ])('%s (resolving to %j) with %j → %s', (url, resolved, options, verdict) => {
    expect(decide(url, resolved, options)).toBe(verdict);
  });

  it('refuses malformed allow-list entries, naming the option', () => {
    for (const [options, field] of [
      [{ allowCidrs: ['10.0.0.0/33'] }, 'allowCidrs'],
      [{ allowCidrs: ['10.1'] }, 'allowCidrs'],
      [{ allowHosts: ['http://x'] }, 'allowHosts'],
      [{ allowHosts: ['a b'] }, 'allowHosts'],
    ] as const) {
      expect(() => resolveWebhookTargetPolicy(options)).toThrow(InvalidArgumentError);
      expect(() => resolveWebhookTargetPolicy(options)).toThrow(field);
    }
  });

  it('gives every class a rule (the table is total)', () => {
    expect(Object.keys(CLASS_RULES).sort()).toEqual([...ADDRESS_CLASSES].sort());
    expect(ADDRESS_CLASSES.filter((c) => CLASS_RULES[c] === 'allow')).toEqual(['public']);
  });
});
