import { InvalidArgumentError, type WebhookRefusal } from './errors.js';
import { assertNever } from './events.js';
import { classifyIp, cidrContains, formatIp, parseCidr, parseIpv4, parseIpv6, type AddressClass, type Cidr, type IpAddress } from './webhook-address.js';

/** Operator settings of where webhooks may go (env: `WEBHOOK_ALLOW_PRIVATE`, `WEBHOOK_ALLOW_HOSTS`, `WEBHOOK_ALLOW_CIDRS`). */
export interface WebhookTargetPolicyOptions {
  /** Also allow loopback, RFC 1918, CGNAT (100.64/10) and unique-local (fc00::/7) receivers. @defaultValue false */
  allowPrivate?: boolean;
  /**
   * Host names trusted whatever they resolve to (still never unspecified, multicast or broadcast):
   * exact (`hooks.corp.internal`) or every subdomain (`*.corp.internal`), case-insensitive.
   * @defaultValue []
   */
  allowHosts?: readonly string[];
  /** Address blocks allowed whatever their class (`10.20.0.0/16`, `fd12::/16`, `169.254.10.5`). @defaultValue [] */
  allowCidrs?: readonly string[];
}

/** `WebhookTargetPolicyOptions` checked and compiled. */
export interface WebhookTargetPolicy {
  readonly allowPrivate: boolean;
  /** Lowercase, without trailing dots; `*.x` entries match subdomains of `x`. */
  readonly allowHosts: readonly string[];
  readonly allowCidrs: readonly Cidr[];
}

/**
 * What the policy does with each address class:
 * - `allow`: always a valid receiver.
 * - `private`: allowed with `allowPrivate` (internal receivers), or when allow-listed.
 * - `listed`: allowed only through `allowHosts`/`allowCidrs` (link-local holds cloud metadata
 *   endpoints: `allowPrivate` alone never opens it).
 * - `never`: not a unicast receiver at all (0.0.0.0 even connects to the local host); no opt-in.
 */
export const CLASS_RULES: Readonly<Record<AddressClass, 'allow' | 'private' | 'listed' | 'never'>> = {
  public: 'allow',
  loopback: 'private',
  private: 'private',
  cgnat: 'private',
  'unique-local': 'private',
  'link-local': 'listed',
  reserved: 'listed',
  unspecified: 'never',
  multicast: 'never',
  broadcast: 'never',
};

/** A webhook URL taken apart for vetting. */
export interface WebhookTarget {
  readonly url: URL;
  readonly protocol: 'http:' | 'https:';
  /** Lowercase host without brackets or trailing dots (`hooks.example.com`, `2001:db8::1`). */
  readonly host: string;
  readonly port: number;
  /** Set when the host is an address literal (no resolution needed). */
  readonly literal?: IpAddress;
  /** `host:port`: deliveries to one receiver share its concurrency limit. */
  readonly receiverKey: string;
}

/** The outcome of `parseWebhookTarget`. */
export type ParsedWebhookTarget = { readonly ok: true; readonly target: WebhookTarget } | { readonly ok: false; readonly refusal: WebhookRefusal; readonly message: string };

/** The verdict on one address. */
export type AddressVerdict =
  | { readonly allowed: true; readonly address: IpAddress; readonly class: AddressClass }
  | { readonly allowed: false; readonly address: IpAddress; readonly class: AddressClass };

/** The verdict on a target and the addresses its host resolved to. */
export type WebhookTargetDecision =
  | { readonly allowed: true; readonly addresses: readonly IpAddress[] }
  | { readonly allowed: false; readonly refusal: WebhookRefusal; readonly message: string };

/** Checks and compiles the options; a malformed host or CIDR throws `InvalidArgumentError` naming it. */
export function resolveWebhookTargetPolicy(options: WebhookTargetPolicyOptions = {}): WebhookTargetPolicy {
  const allowHosts = (options.allowHosts ?? []).map((raw) => {
    const host = normalizeHost(raw.trim());
    const bare = host.startsWith('*.') ? host.slice(2) : host;
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(bare)) {
      throw new InvalidArgumentError('allowHosts', `"${raw}" is not a host name (use allowCidrs for addresses)`, 'INVALID_OPTIONS');
    }
    return host;
  });
  const allowCidrs = (options.allowCidrs ?? []).map((raw) => {
    const parsed = parseCidr(raw);
    if (!parsed) throw new InvalidArgumentError('allowCidrs', `"${raw}" is not an address or CIDR block (10.0.0.0/8, fd00::/8)`, 'INVALID_OPTIONS');
    return parsed;
  });
  return { allowPrivate: options.allowPrivate ?? false, allowHosts, allowCidrs };
}

/** Lowercases and drops trailing dots (`LocalHost.` → `localhost`): one spelling per name. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.+$/, '');
}

/** `localhost` and `*.localhost` (RFC 6761): loopback by name, whatever a resolver says. */
export function isLocalhostName(host: string): boolean {
  const h = normalizeHost(host);
  return h === 'localhost' || h.endsWith('.localhost');
}

/**
 * Takes a webhook URL apart: `http`/`https` only; the host as the WHATWG URL parser normalises
 * it (so `0x7f000001`, `2130706433`, `0177.1` are already 127.0.0.1 here), an address literal
 * recognised in any IPv4 form as a second line of defence.
 */
export function parseWebhookTarget(raw: string): ParsedWebhookTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, refusal: 'url', message: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, refusal: 'scheme', message: `scheme ${url.protocol} is not http or https` };
  const bracketed = url.hostname.startsWith('[');
  const host = bracketed ? url.hostname.slice(1, -1).toLowerCase() : normalizeHost(url.hostname);
  if (host === '') return { ok: false, refusal: 'url', message: 'has no host' };
  const literal = bracketed ? parseIpv6(host) : parseIpv4(host);
  if (bracketed && !literal) return { ok: false, refusal: 'url', message: `host [${host}] is not an IPv6 address` };
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const canonical = literal ? formatIp(literal) : host;
  return {
    ok: true,
    target: {
      url,
      protocol: url.protocol,
      host: canonical,
      port,
      ...(literal && { literal }),
      receiverKey: `${literal?.family === 6 ? `[${canonical}]` : canonical}:${port}`,
    },
  };
}

/** Whether the policy's host allow-list names `host`. */
export function hostAllowed(policy: WebhookTargetPolicy, host: string): boolean {
  const h = normalizeHost(host);
  return policy.allowHosts.some((entry) => (entry.startsWith('*.') ? h.endsWith(entry.slice(1)) : h === entry));
}

/**
 * The verdict on one address a target's host resolved to: `never` classes are refused outright;
 * then an allow-listed block (matched against an embedded IPv4 too) or host allows it; then the
 * class rule decides.
 */
export function vetAddress(policy: WebhookTargetPolicy, hostListed: boolean, address: IpAddress): AddressVerdict {
  const classified = classifyIp(address);
  const rule = CLASS_RULES[classified.class];
  const verdict = (allowed: boolean): AddressVerdict => ({ allowed, address, class: classified.class });
  if (rule === 'never') return verdict(false);
  const inBlock = (ip: IpAddress) => policy.allowCidrs.some((c) => cidrContains(c, ip));
  if (inBlock(address) || (classified.embeddedIpv4 && inBlock(classified.embeddedIpv4))) return verdict(true);
  if (hostListed || rule === 'allow') return verdict(true);
  return verdict(rule === 'private' && policy.allowPrivate);
}

/**
 * The part of the decision that needs no address: a `localhost` name is refused (unless private
 * targets are allowed or the host is listed) before anyone resolves it. Undefined: no objection.
 */
export function refuseByName(policy: WebhookTargetPolicy, target: WebhookTarget): WebhookTargetDecision | undefined {
  if (target.literal || !isLocalhostName(target.host) || policy.allowPrivate || hostAllowed(policy, target.host)) return undefined;
  return { allowed: false, refusal: 'localhost', message: `host ${target.host} is a loopback name; webhooks may only reach public addresses` };
}

/**
 * Decides a target given every address its host resolved to (the literal itself for an address
 * host). Refused by name (`refuseByName`), when there is no address, or when ANY address is
 * refused: a resolver may hand out a different one of them to each connection.
 */
export function decideWebhookTarget(policy: WebhookTargetPolicy, target: WebhookTarget, addresses: readonly IpAddress[]): WebhookTargetDecision {
  const byName = refuseByName(policy, target);
  if (byName) return byName;
  if (addresses.length === 0) return { allowed: false, refusal: 'unresolvable', message: `host ${target.host} has no address` };
  const listed = hostAllowed(policy, target.host);
  for (const address of addresses) {
    const verdict = vetAddress(policy, listed, address);
    if (verdict.allowed) continue;
    const text = formatIp(address);
    const where = target.literal ? `address ${text}` : `host ${target.host} resolves to ${text}, which`;
    return { allowed: false, refusal: 'address', message: `${where} is ${describeClass(verdict.class)}; webhooks may only reach public addresses` };
  }
  return { allowed: true, addresses };
}

/** "a loopback address", "a link-local address", … for messages. */
function describeClass(cls: AddressClass): string {
  switch (cls) {
    case 'public':
      return 'a public address';
    case 'loopback':
      return 'a loopback address';
    case 'private':
      return 'a private (RFC 1918) address';
    case 'cgnat':
      return 'a shared (CGNAT, 100.64/10) address';
    case 'unique-local':
      return 'a unique-local address';
    case 'link-local':
      return 'a link-local address';
    case 'unspecified':
      return 'an unspecified (0.0.0.0/8 or ::) address';
    case 'multicast':
      return 'a multicast address';
    case 'broadcast':
      return 'the broadcast address';
    case 'reserved':
      return 'a reserved address';
    default:
      return assertNever(cls);
  }
}
