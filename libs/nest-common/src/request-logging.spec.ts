import Fastify from 'fastify';
import {
  CORRELATION_HEADER,
  correlationIdOf,
  installRequestLogging,
  type RequestLineLogger,
} from './request-logging';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

function recorder(debug = false): RequestLineLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return {
    lines,
    isLevelEnabled: (level) => debug || level !== 'debug',
    debug: at('debug'),
    warn: at('warn'),
    error: at('error'),
  };
}

async function server(log: RequestLineLogger) {
  const app = Fastify({ genReqId: correlationIdOf });
  installRequestLogging(app, log);
  app.get('/ok', async () => ({ ok: true }));
  app.get('/bad', async (_req, reply) => reply.code(400).send({ error: 'bad' }));
  app.get('/boom', async (req, reply) => {
    (req as typeof req & { errorCode?: string }).errorCode = 'INTERNAL_ERROR';
    return reply.code(500).send({ error: 'boom' });
  });
  app.get('/health/ready', async (_req, reply) => reply.code(503).send({}));
  await app.ready();
  return app;
}

describe('correlationIdOf', () => {
  it('keeps a sane caller id and replaces anything else', () => {
    expect(correlationIdOf({ headers: { [CORRELATION_HEADER]: 'abc-123:x' } })).toBe('abc-123:x');
    expect(correlationIdOf({ headers: { 'x-request-id': 'r.1' } })).toBe('r.1');
    const replaced = correlationIdOf({ headers: { [CORRELATION_HEADER]: 'has spaces\nand a newline' } });
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    expect(correlationIdOf({ headers: { [CORRELATION_HEADER]: 'x'.repeat(129) } })).not.toContain('x');
  });
});

describe('installRequestLogging', () => {
  it('echoes the correlation id on every response, generated when the caller sent none', async () => {
    const app = await server(recorder());
    const given = await app.inject({ url: '/ok', headers: { [CORRELATION_HEADER]: 'trace-1' } });
    expect(given.headers[CORRELATION_HEADER]).toBe('trace-1');
    const generated = await app.inject({ url: '/bad' });
    expect(generated.headers[CORRELATION_HEADER]).toMatch(/^[0-9a-f-]{36}$/);
    await app.close();
  });

  it('logs 4xx at warn and 5xx at error with the correlation id and no headers; success only at debug', async () => {
    const log = recorder();
    const app = await server(log);
    await app.inject({ url: '/ok', headers: { 'x-api-key': 'secret-key' } });
    await app.inject({ url: '/bad', headers: { [CORRELATION_HEADER]: 'c-4', 'x-api-signature': 'sig' } });
    await app.inject({ url: '/boom' });
    await app.inject({ url: '/health/ready' });
    expect(log.lines.map((l) => [l.level, (l.obj.res as { statusCode: number }).statusCode])).toEqual([
      ['warn', 400],
      ['error', 500],
    ]);
    expect(log.lines[0].obj).toMatchObject({
      correlationId: 'c-4',
      req: { method: 'GET', url: '/bad' },
      res: { statusCode: 400 },
    });
    expect(log.lines[1].obj.res).toEqual({ statusCode: 500, errorCode: 'INTERNAL_ERROR' });
    expect(JSON.stringify(log.lines)).not.toMatch(/secret-key|sig"/);
    await app.close();

    const verbose = recorder(true);
    const debugApp = await server(verbose);
    await debugApp.inject({ url: '/ok' });
    await debugApp.inject({ url: '/health/ready' });
    expect(verbose.lines.map((l) => l.level)).toEqual(['debug']);
    await debugApp.close();
  });
});
