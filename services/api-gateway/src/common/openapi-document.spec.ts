import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import type {
  OperationObject,
  ParameterObject,
  ResponseObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { GATEWAY_CONFIG, type ApiGatewayConfig } from '../api-gateway.config';
import { AppModule } from '../app.module';
import { buildOpenApiDocument } from './openapi-document';

// The document the gateway serves, built from the gateway's own controllers (every provider
// stubbed: building it needs no infrastructure), then checked: valid OpenAPI 3.1 by the official
// schema, and complete for /v1 (every route, its parameters, request body, answers and errors).

const config = {
  INSTANCE_ID: '0',
  LOG_LEVEL: 'error',
  DEPTH_LEVELS: 20,
  API_KEY_ENCRYPTION_KEY: '00'.repeat(32),
  OPERATOR_TOKEN: 'x'.repeat(32),
} as unknown as ApiGatewayConfig;

/** The gateway's controllers over stub providers (no Kafka, database or Redis). */
function documentModule(): DynamicModule {
  const app = AppModule.forRoot(config);
  const stub = (p: Provider): Provider | null => {
    if (typeof p === 'function') return { provide: p, useValue: {} };
    if (p.provide === APP_FILTER) return null;
    return { provide: p.provide, useValue: p.provide === GATEWAY_CONFIG ? config : {} };
  };
  @Module({})
  class DocumentModule {}
  return {
    module: DocumentModule,
    controllers: app.controllers,
    providers: (app.providers ?? []).map(stub).filter((p): p is Provider => p !== null),
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

describe('the OpenAPI document', () => {
  let document: OpenAPIObject;
  const routes: string[] = [];

  beforeAll(async () => {
    const app = await NestFactory.create<NestFastifyApplication>(documentModule(), new FastifyAdapter(), {
      logger: false,
    });
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (r: { method: string | string[]; url: string }) => {
        for (const m of [r.method].flat())
          if (r.url.startsWith('/v1/') && m !== 'HEAD') routes.push(`${m.toLowerCase()} ${r.url}`);
      });
    await app.init();
    document = buildOpenApiDocument(app, { depthLevels: config.DEPTH_LEVELS });
    await app.close();
  });

  it('is valid OpenAPI 3.1 by the official schema (@seriousme/openapi-schema-validator)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      // The validator is an ES module: run it in its own node, from the repository (its node_modules).
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { Validator } from '@seriousme/openapi-schema-validator';
           const v = new Validator();
           const r = await v.validate(${JSON.stringify(file)});
           process.stdout.write(JSON.stringify({ ...r, version: v.version }));`,
        ],
        { cwd: join(__dirname, '../../../..'), encoding: 'utf8' },
      );
      expect(JSON.parse(out)).toEqual({ valid: true, version: '3.1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(document.openapi).toBe('3.1.0');
  });

  it('has an operation for every /v1 route the gateway registers, and nothing else under /v1', () => {
    const documented: string[] = [];
    for (const [path, item] of Object.entries(document.paths))
      for (const m of METHODS)
        if (path.startsWith('/v1/') && item[m])
          documented.push(`${m} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(documented.sort()).toEqual([...new Set(routes)].sort());
  });

  it('gives every /v1 operation a summary, its parameters, a body schema and the body of every answer', () => {
    const problems: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const m of METHODS) {
        const op = item[m] as OperationObject | undefined;
        if (!op) continue;
        const where = `${m.toUpperCase()} ${path}`;
        if (!op.summary) problems.push(`${where}: no summary`);
        const params = (op.parameters ?? []) as ParameterObject[];
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g))
          if (!params.some((p) => p.in === 'path' && p.name === name))
            problems.push(`${where}: no path ${name}`);
        const bodyless = m === 'get' || m === 'delete' || path.endsWith('/api-keys');
        if (!bodyless && !op.requestBody) problems.push(`${where}: no request body`);
        const responses = op.responses as Record<string, ResponseObject>;
        const success = Object.keys(responses).filter((s) => s.startsWith('2'));
        if (success.length !== 1) problems.push(`${where}: success answers ${success.join(',') || 'none'}`);
        for (const status of ['400', '413', '414', '415', '429', '431', '503'])
          if (!responses[status]) problems.push(`${where}: no ${status}`);
        const authenticated = (op.security?.length ?? 0) > 0 || path.startsWith('/v1/operator/');
        if (authenticated && !responses['401']) problems.push(`${where}: no 401`);
        for (const [status, r] of Object.entries(responses)) {
          if (status === '204') continue;
          if (!r.content?.['application/json']?.schema)
            problems.push(`${where}: ${status} without a body schema`);
          if (!r.description) problems.push(`${where}: ${status} without a description`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents what the issue asked: 409 IDEMPOTENCY_KEY_REUSED, MARKET_BUY_UNBOUNDED, amend_requested, levels', () => {
    const op = (m: (typeof METHODS)[number], p: string) => document.paths[p][m] as OperationObject;
    const responses = (m: (typeof METHODS)[number], p: string) =>
      op(m, p).responses as Record<string, ResponseObject>;
    for (const [m, p] of [
      ['post', '/v1/orders'],
      ['post', '/v1/operator/deposits'],
      ['post', '/v1/operator/withdrawals'],
    ] as const) {
      expect(responses(m, p)['409'].description).toContain('IDEMPOTENCY_KEY_REUSED');
      expect(op(m, p).summary).toContain('IDEMPOTENCY_KEY_REUSED');
    }
    expect(responses('post', '/v1/orders')['400'].description).toContain('MARKET_BUY_UNBOUNDED');
    expect(JSON.stringify(responses('patch', '/v1/orders/{id}')['202'])).toContain('amend_requested');
    const levels = (op('get', '/v1/markets/{symbol}/depth').parameters as ParameterObject[]).find(
      (p) => p.name === 'levels',
    );
    expect(levels?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 20, default: 20 });
    for (const p of ['/v1/markets/{symbol}/trades', '/v1/markets/{symbol}/candles']) {
      const limit = (op('get', p).parameters as ParameterObject[]).find((x) => x.name === 'limit');
      expect(limit?.schema).toMatchObject({ type: 'integer', minimum: 1 });
    }
    const ledger = responses('get', '/v1/ledger')['200'].content!['application/json'].schema as {
      required: string[];
    };
    expect(ledger.required.sort()).toEqual(['data', 'nextCursor']);
  });
});
