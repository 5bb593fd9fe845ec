import { InvalidArgumentError } from '../domain/errors.js';
import { assertNever } from '../domain/events.js';

/** One `host:port` of a Redis Cluster seed list or a Sentinel list. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** One Redis server, as an ioredis URL (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS). */
export interface StandaloneRedisTarget {
  readonly kind: 'standalone';
  readonly url: string;
}

/**
 * A Redis Cluster: a few seed nodes (ioredis discovers the rest). Every key we and BullMQ touch
 * carries the queue prefix's `{hash tag}`, so all of them live in one slot (one master + its
 * replicas): Cluster gives failover here, not sharding of one queue.
 */
export interface ClusterRedisTarget {
  readonly kind: 'cluster';
  readonly nodes: readonly RedisNode[];
  readonly username?: string;
  readonly password?: string;
  /** TLS to every node (managed clusters). */
  readonly tls: boolean;
}

/** A master found through Redis Sentinel by its master-group `name`; ioredis follows failovers. */
export interface SentinelRedisTarget {
  readonly kind: 'sentinel';
  readonly sentinels: readonly RedisNode[];
  readonly name: string;
  /** Credentials of the master (and replicas). */
  readonly username?: string;
  readonly password?: string;
  /** Password of the Sentinels themselves, where they require one. */
  readonly sentinelPassword?: string;
  readonly db: number;
  /** TLS to the master and to the Sentinels. */
  readonly tls: boolean;
}

/** Where Redis is: one server, a Cluster, or a Sentinel-managed master. */
export type RedisTarget = StandaloneRedisTarget | ClusterRedisTarget | SentinelRedisTarget;

/**
 * What options accept for `connection`: a target, or a URL —
 * `redis://` / `rediss://` (one server), `redis+cluster://[user:pass@]h1:p1,h2:p2` (Cluster seed
 * nodes) or `redis+sentinel://[user:pass@]s1:p1,s2:p2/<master name>[/<db>][?sentinelPassword=…]`;
 * `rediss+cluster://` and `rediss+sentinel://` use TLS.
 */
export type RedisConnection = string | RedisTarget;

const DEFAULT_PORT = { cluster: 6379, sentinel: 26379 } as const;
const TOPOLOGY_URL = /^(rediss?)\+(cluster|sentinel):\/\/(?:([^@/?#]*)@)?([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/;

/**
 * Parses `host:port,host:port` (IPv6 in brackets: `[::1]:7000`); `defaultPort` where a port is
 * left out. Throws `InvalidArgumentError` naming `field`.
 */
export function parseRedisNodes(text: string, defaultPort: number, field: string): RedisNode[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError(field, 'must list at least one host:port', 'INVALID_OPTIONS');
  return parts.map((part) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(part);
    const host = m?.[1] ?? m?.[2];
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidArgumentError(field, `"${part}" is not host:port`, 'INVALID_OPTIONS');
    return { host, port };
  });
}

/**
 * The target a connection option names, checked. A URL's mistakes (unknown scheme, a Sentinel URL
 * without a master name, a bad port) throw `InvalidArgumentError` naming `field`; so does an
 * empty node list in a target object.
 */
export function resolveRedisTarget(connection: RedisConnection, field = 'connection'): RedisTarget {
  if (typeof connection !== 'string') return checkTarget(connection, field);
  const text = connection.trim();
  if (/^rediss?:\/\//i.test(text)) {
    let host = '';
    try {
      host = new URL(text).hostname;
    } catch {
      // reported below
    }
    if (!host) throw new InvalidArgumentError(field, 'is not a valid redis:// URL (redis://[user:password@]host:port[/db])', 'INVALID_OPTIONS');
    return { kind: 'standalone', url: text };
  }
  const m = TOPOLOGY_URL.exec(text);
  if (!m) {
    throw new InvalidArgumentError(field, 'must be a redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel:// URL', 'INVALID_OPTIONS');
  }
  const [, scheme, kind, userinfo, hosts = '', pathname = '', query = ''] = m;
  const tls = scheme === 'rediss';
  const auth = parseUserinfo(userinfo, field);
  const params = new URLSearchParams(query);
  if (kind === 'cluster') {
    if (pathname.replace(/\/+$/, '') !== '') throw new InvalidArgumentError(field, 'a Redis Cluster has no database number or path (cluster mode uses db 0)', 'INVALID_OPTIONS');
    return checkTarget({ kind: 'cluster', nodes: parseRedisNodes(hosts, DEFAULT_PORT.cluster, field), ...auth, tls }, field);
  }
  const [name = '', db = '0', ...rest] = pathname.replace(/^\//, '').split('/');
  if (!name || rest.length || !/^\d+$/.test(db)) throw new InvalidArgumentError(field, 'a Sentinel URL ends in /<master name>[/<db>]', 'INVALID_OPTIONS');
  const sentinelPassword = params.get('sentinelPassword');
  return checkTarget(
    {
      kind: 'sentinel',
      sentinels: parseRedisNodes(hosts, DEFAULT_PORT.sentinel, field),
      name: decodeURIComponent(name),
      ...auth,
      ...(sentinelPassword !== null && { sentinelPassword }),
      db: Number(db),
      tls,
    },
    field,
  );
}

/** A target as it may be logged: passwords left out. */
export function describeRedisTarget(target: RedisTarget): string {
  const nodes = (list: readonly RedisNode[]) => list.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',');
  switch (target.kind) {
    case 'standalone':
      return redactRedisUrl(target.url);
    case 'cluster':
      return `${target.tls ? 'rediss' : 'redis'}+cluster://${nodes(target.nodes)}`;
    case 'sentinel':
      return `${target.tls ? 'rediss' : 'redis'}+sentinel://${nodes(target.sentinels)}/${encodeURIComponent(target.name)}/${target.db}`;
    default:
      return assertNever(target);
  }
}

/** A redis:// URL with any password replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Whether `prefix` puts every key into one Redis Cluster slot. Redis hashes only the part between
 * a key's first `{` and the next `}` when that part is non-empty; every key we and BullMQ build
 * starts with the prefix, so the prefix's first `{` is the key's first.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}

function parseUserinfo(userinfo: string | undefined, field: string): { username?: string; password?: string } {
  if (!userinfo) return {};
  const colon = userinfo.indexOf(':');
  try {
    const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    const password = colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1));
    return { ...(username && { username }), ...(password && { password }) };
  } catch {
    throw new InvalidArgumentError(field, 'has a badly percent-encoded user or password', 'INVALID_OPTIONS');
  }
}

function checkTarget(target: RedisTarget, field: string): RedisTarget {
  switch (target.kind) {
    case 'standalone':
      return resolveRedisTarget(target.url, field);
    case 'cluster':
      if (target.nodes.length === 0) throw new InvalidArgumentError(`${field}.nodes`, 'must list at least one seed node', 'INVALID_OPTIONS');
      return target;
    case 'sentinel':
      if (target.sentinels.length === 0) throw new InvalidArgumentError(`${field}.sentinels`, 'must list at least one Sentinel', 'INVALID_OPTIONS');
      if (!target.name) throw new InvalidArgumentError(`${field}.name`, 'must name the Sentinel master group', 'INVALID_OPTIONS');
      if (!Number.isSafeInteger(target.db) || target.db < 0) throw new InvalidArgumentError(`${field}.db`, 'must be an integer >= 0', 'INVALID_OPTIONS');
      return target;
    default:
      return assertNever(target);
  }
}
