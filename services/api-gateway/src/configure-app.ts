import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { ApiGatewayConfig } from './api-gateway.config';
import { inspectJson, inspectParameters, unsupportedEncoding } from './common/edge-input';
import { BINANCE_PREFIX, installBinanceErrorShape } from './binance/binance.errors';
import { BINANCE_WS_PATH } from './binance/binance-ws.streams';
import { buildOpenApiDocument } from './common/openapi-document';
import { trackRoutes } from './common/route-table';
import { ErrorCode, GatewayException } from './errors/gateway.exception';
import { installDirectOrderRoutes } from './orders/direct-order-routes';
import { GatewayWsAdapter } from './stream/gateway-ws.adapter';

// Deeper JSON than this is refused before parsing (hostile nesting costs stack and CPU).
const MAX_JSON_DEPTH = 16;

/** True when brackets nest deeper than `max` (strings skipped); a linear scan, no parse. */
export function jsonTooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * What every request passes before its handler: a body only as JSON (no text/plain parser, so
 * any other content type is 415, and the signature never covers a body the handler did not get)
 * and without a content encoding (415: nothing is decoded); no control character in a query value
 * or a path parameter (400 naming it).
 */
function installEdgeChecks(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('preParsing', async (req: FastifyRequest, _reply, payload) => {
    if (unsupportedEncoding(req.headers['content-encoding']))
      throw new GatewayException(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        'Content-Encoding is not supported (send the body unencoded)',
      );
    return payload;
  });
  fastify.addHook('preValidation', async (req: FastifyRequest) => {
    const refused = inspectParameters(req.query, req.params);
    if (refused) throw refused;
  });
}

/**
 * Fastify wiring the gateway needs before listen: the edge checks, a JSON parser that keeps the
 * raw body (what the signature covers), the WebSocket adapter on the same HTTP server, OpenAPI at
 * /docs, the direct handlers of the order writes, and the route table that turns a wrong method
 * into 405.
 */
export function configureGateway(app: NestFastifyApplication, config: ApiGatewayConfig): void {
  const fastify = app.getHttpAdapter().getInstance();
  // Typed with our fastify: @nestjs/platform-fastify carries its own copy's types.
  trackRoutes(fastify);
  installEdgeChecks(fastify as unknown as FastifyInstance);
  installDirectOrderRoutes(app);
  installBinanceErrorShape(fastify as unknown as FastifyInstance);
  app.useBodyParser('application/json', { bodyLimit: config.BODY_LIMIT_BYTES }, (req, body, done) => {
    const text = body.toString('utf8');
    (req as unknown as { rawBody?: string }).rawBody = text;
    // Our exception, not Fastify's: Nest would reduce a FastifyError to a bare HttpException.
    const malformed = (message: string) =>
      done(new GatewayException(ErrorCode.MALFORMED_JSON, message), undefined);
    // No body (e.g. a DELETE sent with this content type): the handler sees none.
    if (text.trim() === '') return done(null, undefined);
    if (jsonTooDeep(text, MAX_JSON_DEPTH))
      return malformed(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return malformed('request body is not valid JSON');
    }
    // Duplicate keys (JSON.parse keeps the last), prototype keys (__proto__, constructor) and
    // control characters are refused naming the key or field; nothing else reads the body first.
    const refused = inspectJson(text);
    if (refused) return done(refused, undefined);
    done(null, value);
  });

  // The Binance dialect's form bodies, under /api/v3 only (everywhere else bodies are JSON: 415).
  // Kept as text: the signature covers it as sent, and its parameters are read with the query's.
  app.useBodyParser(
    'application/x-www-form-urlencoded',
    { bodyLimit: config.BODY_LIMIT_BYTES },
    (req, body, done) => {
      if (!(req.url ?? '').startsWith(`${BINANCE_PREFIX}/`))
        return done(
          new GatewayException(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            'unsupported content type (use application/json)',
          ),
          undefined,
        );
      (req as unknown as { formBody?: string }).formBody = body.toString('utf8');
      done(null, undefined);
    },
  );

  // Our own message handling: Nest's {event,data} routing is bypassed (the parser yields nothing).
  // Binance's raw streams live under /ws/<streamName>: that gateway takes the whole prefix.
  app.useWebSocketAdapter(
    new GatewayWsAdapter(app, { messageParser: () => undefined, prefixPaths: [BINANCE_WS_PATH] }),
  );

  const document = buildOpenApiDocument(app, { depthLevels: config.DEPTH_LEVELS });
  // @fastify/static (Swagger UI assets) is not installed: serve the document and a small page.
  SwaggerModule.setup('docs', app, document, {
    ui: false,
    raw: ['json'],
    jsonDocumentUrl: 'docs/openapi.json',
  });
  fastify.get('/docs', (_req, reply) => {
    void reply.type('text/html').send(DOCS_HTML);
  });
}

const DOCS_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Spot exchange API</title></head>
<body style="font-family: sans-serif; max-width: 60em; margin: 2em auto">
<h1>Spot exchange API</h1>
<p>The OpenAPI 3 document is at <a href="/docs/openapi.json">/docs/openapi.json</a>; load it into any OpenAPI viewer.</p>
<pre id="paths">loading...</pre>
<script>
fetch('/docs/openapi.json').then(r => r.json()).then(doc => {
  const lines = [];
  for (const [path, ops] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(ops))
    lines.push(m.toUpperCase().padEnd(7) + path.padEnd(36) + (op.summary || ''));
  document.getElementById('paths').textContent = lines.join('\\n');
});
</script>
</body></html>`;
