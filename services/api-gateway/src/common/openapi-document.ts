import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type {
  OperationObject,
  ParameterObject,
  ResponseObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { OPERATOR_HEADER } from '../operator/operator.guard';
import { BINANCE_SIGNED, ERROR_SCHEMA, SIGNED } from './openapi';

/** Where the gateway serves the document (and `/docs`, a small HTML index). */
export const OPENAPI_JSON_PATH = '/docs/openapi.json';

const DESCRIPTION =
  'Signed requests carry X-API-KEY (key id), X-API-TIMESTAMP (ms epoch, within the window) and ' +
  'X-API-SIGNATURE = hex HMAC-SHA256(secret, timestamp + METHOD + pathWithQuery + rawBody). ' +
  'Decimals are strings. Errors are { error: { code, message, field? } } (a 503 naming a dependency ' +
  'also carries dependency, and orderId when an order was sent but not confirmed). Paged lists ' +
  'answer { data, nextCursor }: pass nextCursor as cursor for the next, older page (null at the end). ' +
  'Bodies are JSON only: another Content-Type is 415, and so is any Content-Encoding but ' +
  'identity. A JSON object must not repeat a key: a duplicate key is 400 MALFORMED_JSON naming ' +
  'it (never "last wins"), as are the keys __proto__, constructor and prototype. No text (body ' +
  'string, query value, path parameter) may contain a control character (U+0000-U+001F, ' +
  'U+007F-U+009F) or a lone surrogate: 400 naming the field. limit and levels are decimal ' +
  'digits. A known path with another method is 405 with Allow; an unknown path 404 NOT_FOUND. ' +
  'A clientOrderId or operator commandId reused with another body is 409 IDEMPOTENCY_KEY_REUSED. ' +
  'WebSocket /v1/stream (JSON text frames): send {"op":"subscribe","channel":"depth:<symbol>"|' +
  '"trades:<symbol>"|"ticker:<symbol>"|"orders"}, {"op":"unsubscribe","channel"}, {"op":"ping"}, ' +
  '{"op":"auth","apiKey","timestamp","signature"} (signature over timestamp + "GET" + "/v1/stream"); ' +
  'the server sends {"type":"snapshot"|"update","channel","seq","data"}, {"type":"subscribed","channel"} ' +
  '(orders), {"type":"unsubscribed","channel"}, {"type":"pong","time"}, {"type":"authenticated",' +
  '"accountId"} and {"type":"error","code","message","channel?","field?"} (docs/api.md). ' +
  'A Binance spot-compatible subset is served under /api/v3 (docs/api.md, "Standard clients"): ' +
  'form-encoded parameters, Binance signing and {code, msg} errors.';

/** What any /v1 request may get from the gateway's edge before (or instead of) its handler. */
const EDGE_ERRORS: Record<string, string> = {
  '400':
    'VALIDATION_FAILED, MALFORMED_JSON, INVALID_CURSOR, MALFORMED_REQUEST or a rule of the route (error.field names what is wrong)',
  '408': 'REQUEST_TIMEOUT: the request did not arrive in time',
  '413': 'PAYLOAD_TOO_LARGE: a body over BODY_LIMIT_BYTES (64 KiB)',
  '414': 'URI_TOO_LONG: a path segment over 100 characters',
  '415': 'UNSUPPORTED_MEDIA_TYPE: a body that is not application/json, or a Content-Encoding',
  '429': 'RATE_LIMITED per client IP or per API key (Retry-After, X-RateLimit-*)',
  '431': 'HEADERS_TOO_LARGE',
  '503':
    'SERVICE_UNAVAILABLE (the gateway sheds load or shuts down) or DEPENDENCY_UNAVAILABLE naming the dependency; retry after Retry-After seconds',
};
const UNAUTHENTICATED =
  'UNAUTHENTICATED, INVALID_API_KEY, STALE_TIMESTAMP, BAD_SIGNATURE or REPLAYED_REQUEST';
const OPERATOR_UNAUTHENTICATED =
  'UNAUTHENTICATED: no or a wrong X-Operator-Token (or the operator API is off: no OPERATOR_TOKEN)';

/**
 * The gateway's OpenAPI 3.1 document: the controllers' decorators, then every /v1 operation
 * completed with the error answers of the edge (each with the error body), 401 for signed and
 * operator routes, and `levels` bounded by the DEPTH_LEVELS the depth snapshots carry.
 */
export function buildOpenApiDocument(app: INestApplication, opts: { depthLevels: number }): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setOpenAPIVersion('3.1.0')
      .setTitle('Spot exchange API')
      .setDescription(DESCRIPTION)
      .setVersion('1')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-KEY' }, SIGNED)
      .addApiKey(
        {
          type: 'apiKey',
          in: 'header',
          name: 'X-MBX-APIKEY',
          description:
            'Binance signing (/api/v3): the same key id, and timestamp, recvWindow and signature = hex HMAC-SHA256(secret, query string + form body without signature) among the parameters',
        },
        BINANCE_SIGNED,
      )
      .build(),
  );
  completeV1Operations(document, opts);
  return document;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Adds what every /v1 operation can answer; leaves what a controller declared. */
export function completeV1Operations(document: OpenAPIObject, opts: { depthLevels: number }): void {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const op = item[method] as OperationObject | undefined;
      if (!op) continue;
      const responses = op.responses as Record<string, ResponseObject>;
      const signed = (op.security ?? []).some((s) => SIGNED in s);
      const operator = (op.parameters ?? []).some(
        (p) =>
          (p as ParameterObject).in === 'header' &&
          (p as ParameterObject).name.toLowerCase() === OPERATOR_HEADER,
      );
      const errors: Record<string, string> = { ...EDGE_ERRORS };
      if (signed) errors['401'] = UNAUTHENTICATED;
      if (operator) errors['401'] = OPERATOR_UNAUTHENTICATED;
      for (const [status, description] of Object.entries(errors))
        responses[status] ??= { description, content: { 'application/json': { schema: ERROR_SCHEMA } } };
      for (const response of Object.values(responses))
        if (response.content?.['application/json'] && !response.content['application/json'].schema)
          response.content['application/json'].schema = ERROR_SCHEMA;
      for (const p of (op.parameters ?? []) as ParameterObject[]) {
        if (path.endsWith('/depth') && p.in === 'query' && p.name === 'levels') {
          p.schema = { type: 'integer', minimum: 1, maximum: opts.depthLevels, default: opts.depthLevels };
          p.description =
            `levels a side: 1..${opts.depthLevels}, default ${opts.depthLevels}, the levels the book snapshots ` +
            'carry (DEPTH_LEVELS); more is 400 naming levels';
        }
      }
    }
  }
}
