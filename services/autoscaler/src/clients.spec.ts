import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerEngine, DockerError } from './docker-engine';
import { PrometheusError, prometheusQuery } from './prometheus';

// The two HTTP clients against stand-ins: the Docker Engine API on a unix socket, Prometheus'
// /api/v1/query on a TCP port.
type Handler = (req: IncomingMessage, body: string) => [number, unknown];

async function serve(handler: Handler, listenOn: string | number): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const [status, json] = handler(req, body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => server.listen(listenOn, r));
  return server;
}

describe('Docker Engine API client', () => {
  const socket = join(mkdtempSync(join(tmpdir(), 'autoscaler-')), 'docker.sock');
  const calls: { method?: string; url?: string; body: string }[] = [];
  let server: Server;
  beforeAll(async () => {
    server = await serve((req, body) => {
      calls.push({ method: req.method, url: req.url, body });
      if (req.url === '/v1.41/services/trading_api-gateway')
        return [
          200,
          {
            ID: 'abc',
            Version: { Index: 42 },
            Spec: { Name: 'trading_api-gateway', Mode: { Replicated: { Replicas: 2 } }, Labels: { a: 'b' } },
            UpdateStatus: { State: 'completed' },
          },
        ];
      if (req.url === '/v1.41/services/trading_edge')
        return [
          200,
          { ID: 'e', Version: { Index: 1 }, Spec: { Name: 'trading_edge', Mode: { Global: {} } } },
        ];
      if (req.url?.startsWith('/v1.41/services/abc/update')) return [200, { Warnings: null }];
      return [404, { message: 'service not found' }];
    }, socket);
  });
  afterAll(() => server.close());

  it('reads a service and sets its replicas with the version it read, the rest of the spec unchanged', async () => {
    const docker = dockerEngine(socket);
    const view = await docker.inspect('trading_api-gateway');
    expect(view).toEqual(
      expect.objectContaining({ id: 'abc', version: 42, replicas: 2, updateState: 'completed' }),
    );
    await docker.scale(view, 3);
    const update = calls.at(-1);
    expect(update?.method).toBe('POST');
    expect(update?.url).toBe('/v1.41/services/abc/update?version=42');
    expect(JSON.parse(update?.body ?? '')).toEqual({
      Name: 'trading_api-gateway',
      Mode: { Replicated: { Replicas: 3 } },
      Labels: { a: 'b' },
    });
  });

  it('reports a global service as not scalable, and an unknown one as an error', async () => {
    const docker = dockerEngine(socket);
    expect((await docker.inspect('trading_edge')).replicas).toBeNull();
    await expect(docker.inspect('trading_nope')).rejects.toThrow(DockerError);
    await expect(docker.inspect('trading_nope')).rejects.toThrow(/404 service not found/);
    await expect(dockerEngine(join(tmpdir(), 'no-such.sock')).inspect('x')).rejects.toThrow(DockerError);
  });
});

describe('Prometheus query client', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = await serve((req) => {
      const q = new URL(req.url ?? '', 'http://x').searchParams.get('query');
      const vector = (v: string[]) => [
        200,
        {
          status: 'success',
          data: { resultType: 'vector', result: v.map((x) => ({ metric: {}, value: [1, x] })) },
        },
      ];
      if (q === 'one') return vector(['0.25']) as [number, unknown];
      if (q === 'none') return vector([]) as [number, unknown];
      if (q === 'nan') return vector(['NaN']) as [number, unknown];
      if (q === 'scalar')
        return [200, { status: 'success', data: { resultType: 'scalar', result: [1, '7'] } }];
      return [400, { status: 'error', error: 'parse error' }];
    }, 0);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('reads a sample, or null when there is no series or no number', async () => {
    const query = prometheusQuery(url);
    expect(await query('one')).toBe(0.25);
    expect(await query('scalar')).toBe(7);
    expect(await query('none')).toBeNull();
    expect(await query('nan')).toBeNull();
  });

  it('throws on a refused query and on an unreachable server', async () => {
    await expect(prometheusQuery(url)('bad(')).rejects.toThrow(/400 to bad\(: parse error/);
    await expect(prometheusQuery('http://127.0.0.1:1', 1_000)('one')).rejects.toThrow(PrometheusError);
  });
});
