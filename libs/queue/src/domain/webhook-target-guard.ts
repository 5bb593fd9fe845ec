import { lookup } from 'node:dns/promises';

import { WebhookTargetForbiddenError } from './errors.js';
import { formatIp, parseIpLiteral, type IpAddress } from './webhook-address.js';
import { decideWebhookTarget, parseWebhookTarget, refuseByName, resolveWebhookTargetPolicy, type WebhookTarget, type WebhookTargetPolicy, type WebhookTargetPolicyOptions } from './webhook-policy.js';

/**
 * Resolves a host name to every address it has (text, either family). Injectable so that tests
 * never resolve through the network and can answer differently per call (DNS rebinding).
 */
export type HostResolver = (host: string) => Promise<readonly string[]>;

/** The system resolver (`dns.lookup` with `all: true`: /etc/hosts, then DNS), as connections would use it. */
export const systemResolver: HostResolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Options of `createWebhookTargetGuard`: the policy, plus how names are resolved. */
export interface WebhookTargetGuardOptions extends WebhookTargetPolicyOptions {
  /** @defaultValue `systemResolver` */
  resolver?: HostResolver;
  /** Longest wait for the resolver. @defaultValue 5000 */
  resolveTimeoutMs?: number;
}

/** A target the policy allowed, with the addresses it was allowed on (connect only to these). */
export interface VettedWebhookTarget {
  readonly target: WebhookTarget;
  /** Canonical text of every address the host resolved to, all vetted; never empty. */
  readonly addresses: readonly string[];
}

/**
 * Decides whether a webhook URL may be called: parses it, resolves its host (address literals
 * need no resolution) and applies the policy to every address. Used at submit, and again at each
 * delivery, whose connection is then pinned to a vetted address so that a resolver cannot swap it.
 */
export interface WebhookTargetGuard {
  readonly policy: WebhookTargetPolicy;
  /** Resolves and vets `url`; throws `WebhookTargetForbiddenError` naming `field` (default `webhook`). */
  vet(url: string, field?: string): Promise<VettedWebhookTarget>;
}

/** The guard for a policy; a malformed allow-list entry throws `InvalidArgumentError` here. */
export function createWebhookTargetGuard(options: WebhookTargetGuardOptions = {}): WebhookTargetGuard {
  const policy = resolveWebhookTargetPolicy(options);
  const resolver = options.resolver ?? systemResolver;
  const timeoutMs = options.resolveTimeoutMs ?? 5000;

  const resolve = async (target: WebhookTarget, field: string): Promise<IpAddress[]> => {
    if (target.literal) return [target.literal];
    let timer: NodeJS.Timeout | undefined;
    try {
      const answers = await Promise.race([
        resolver(target.host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`resolving ${target.host} took over ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return answers.map((a) => parseIpLiteral(a)).filter((ip): ip is IpAddress => ip !== undefined);
    } catch (cause) {
      throw new WebhookTargetForbiddenError('unresolvable', `host ${target.host} does not resolve`, field, { cause });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    policy,
    async vet(url, field = 'webhook') {
      const parsed = parseWebhookTarget(url);
      if (!parsed.ok) throw new WebhookTargetForbiddenError(parsed.refusal, parsed.message, field);
      const { target } = parsed;
      // A refusal by name (localhost) needs no resolution: decide it before asking anyone.
      const byName = refuseByName(policy, target);
      if (byName && !byName.allowed) throw new WebhookTargetForbiddenError(byName.refusal, byName.message, field);
      const decision = decideWebhookTarget(policy, target, await resolve(target, field));
      if (!decision.allowed) throw new WebhookTargetForbiddenError(decision.refusal, decision.message, field);
      return { target, addresses: decision.addresses.map(formatIp) };
    },
  };
}
