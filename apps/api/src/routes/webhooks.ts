import type { Express, RequestHandler } from 'express';

import { ApiError } from '../errors.js';
import { clientOf } from '../http/auth.js';
import type { RouteContext } from './context.js';
import type { WebhookSecretView } from '../webhooks/secret-view.js';

export type { WebhookSecretView } from '../webhooks/secret-view.js';

/**
 * `GET /v1/webhooks/default/secret` (Replicate's path): the secret webhook deliveries are signed
 * with, for admin keys only (any other key gets 403 FORBIDDEN; with no keys configured the API is
 * open, as the dashboard is). 503 when this API process has no webhook secret (an embedder that
 * does not deliver webhooks).
 */
export function registerWebhookRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  app.get('/v1/webhooks/default/secret', ...guard, (_req, res) => {
    const client = clientOf(res);
    if (ctx.keys.enabled && !(client.authenticated && client.seesAll)) {
      throw new ApiError('FORBIDDEN', 'the webhook signing secret is for admin keys only', 'Authorization');
    }
    if (!ctx.webhookSecret) throw new ApiError('UNAVAILABLE', 'this API process has no webhook signing secret', null);
    res.setHeader('Cache-Control', 'no-store');
    res.json(ctx.webhookSecret satisfies WebhookSecretView);
  });
}
