import { z } from 'zod';

/** A piece of the OpenAPI document (plain JSON). */
export type Json = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema. */
export const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): Json => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  return rest;
};

/** A reference to `components.<kind>.<name>`. */
export const ref = (name: string, kind: 'schemas' | 'headers' | 'parameters' = 'schemas'): Json => ({ $ref: `#/components/${kind}/${name}` });

/**
 * The response headers the API sends, as they go under `components.headers` — the names are
 * exactly what the code sets (`app.ts`, `http/rate-limit.ts`, `http/auth.ts`, the job and batch
 * routes, the 429s of `errors.ts` and `http/sse.ts`).
 */
export const RESPONSE_HEADERS = {
  'X-Request-Id': {
    description: 'Echoes the request\'s X-Request-Id when it is 1–128 printable ASCII characters, else a fresh UUID; on every response. Quote it when reporting a problem.',
    schema: { type: 'string', minLength: 1, maxLength: 128 },
  },
  'RateLimit-Limit': {
    description: 'Requests the caller\'s bucket holds (the burst). Sent on every answer past authentication while request limiting is on (`rateLimitBurst` > 0).',
    schema: { type: 'integer', minimum: 1 },
  },
  'RateLimit-Remaining': {
    description: 'Requests left in the caller\'s bucket now (it refills at `rateLimitPerSec`). Sent with RateLimit-Limit.',
    schema: { type: 'integer', minimum: 0 },
  },
  'Retry-After': {
    description: 'Whole seconds to wait before trying again (at least 1).',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
  Location: { description: 'The path of what was created (same as `links.self`).', required: true, schema: { type: 'string', format: 'uri-reference' } },
  'Idempotent-Replayed': {
    description: '`true` when this answer replays an earlier request with the same Idempotency-Key and body (nothing new was created); absent otherwise.',
    schema: { type: 'string', enum: ['true'] },
  },
  'Preference-Applied': {
    description: '`wait=N` when the request asked for `Prefer: wait` (RFC 7240): the server held the answer up to N seconds.',
    schema: { type: 'string', pattern: '^wait=[0-9]+$' },
  },
  'WWW-Authenticate': { description: 'The auth scheme to use: `Bearer realm="…"`.', required: true, schema: { type: 'string' } },
} as const satisfies Record<string, Json>;

/** A response header name. */
export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** The optional request header every operation takes (its value comes back in X-Request-Id). */
export const REQUEST_ID_PARAMETER = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description: 'Your id for this request (1–128 printable ASCII characters), echoed in the X-Request-Id response header; one is made up otherwise.',
  schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' },
} as const;

/** Who may call an operation: an API key (`/v1`), the metrics token, or anyone (probes, the document). */
export type Access = 'key' | 'metrics' | 'open';

const SECURITY: Readonly<Record<Access, readonly Json[]>> = {
  key: [{ bearer: [] }],
  // No token configured: /metrics is open, hence the empty alternative.
  metrics: [{ metricsToken: [] }, {}],
  open: [],
};

/** A response: description, optional body (by media type) and the headers it carries. */
export interface ResponseInput {
  readonly description: string;
  readonly content?: Json;
  readonly headers?: readonly ResponseHeader[];
}

/** An operation before the common parts (security, X-Request-Id, rate-limit and error headers) are added. */
export interface OperationInput {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  readonly access: Access;
  readonly parameters?: readonly Json[];
  readonly requestBody?: Json;
  /** Success responses by status. */
  readonly responses: Readonly<Record<string, ResponseInput>>;
  /** Error statuses; each answers with the `Error` body and the text `errorText` gives it. */
  readonly errors?: readonly number[];
}

/** A JSON body of `schemaJson`. */
export const jsonContent = (schemaJson: Json): Json => ({ 'application/json': { schema: schemaJson } });

/**
 * Builds one operation: per-operation `security`, the X-Request-Id parameter, and on every
 * response the headers the middleware adds — X-Request-Id always; RateLimit-* past
 * authentication on key-guarded routes (auth runs first, so never on their 401s); Retry-After on
 * every 429; WWW-Authenticate on 401.
 */
export function operation(input: OperationInput, errorText: (status: number) => string): Json {
  const limited = input.access === 'key';
  const headersOf = (status: number, own: readonly ResponseHeader[] = []): Json => {
    const names: ResponseHeader[] = ['X-Request-Id', ...own];
    if (limited && status !== 401) names.push('RateLimit-Limit', 'RateLimit-Remaining');
    if (status === 429) names.push('Retry-After');
    if (status === 401) names.push('WWW-Authenticate');
    return Object.fromEntries(names.map((n) => [n, ref(n, 'headers')]));
  };
  const responses: Json = {};
  for (const [status, r] of Object.entries(input.responses)) {
    responses[status] = { description: r.description, headers: headersOf(Number(status), r.headers), ...(r.content && { content: r.content }) };
  }
  for (const status of input.errors ?? []) {
    responses[String(status)] = { description: errorText(status), headers: headersOf(status), content: jsonContent(ref('Error')) };
  }
  return {
    operationId: input.operationId,
    summary: input.summary,
    ...(input.description !== undefined && { description: input.description }),
    tags: [input.tag],
    security: SECURITY[input.access],
    parameters: [...(input.parameters ?? []), ref('RequestId', 'parameters')],
    ...(input.requestBody && { requestBody: input.requestBody }),
    responses,
  };
}
