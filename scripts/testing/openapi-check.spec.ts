import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkResponse, enableOpenApiCheck, openApiMismatches } from './openapi-check';

// The integration suites' response check, against a small document served like the gateway's.
const document = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: {
    '/v1/things/{id}': {
      get: {
        responses: {
          '200': {
            description: 'a thing',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'string' }, size: { $ref: '#/components/schemas/Size' } },
                  required: ['id'],
                  additionalProperties: false,
                },
              },
            },
          },
          '404': { description: 'none', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
  },
  components: { schemas: { Size: { type: 'integer', minimum: 0 } } },
};

describe('the OpenAPI response check', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/docs/openapi.json' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(document));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => enableOpenApiCheck(false));

  it('records answers whose status or body the document does not have; skips routes it does not know', async () => {
    await checkResponse(base, 'GET', '/v1/things/1', 200, { id: '1' }); // off: nothing
    expect(openApiMismatches()).toEqual({ checked: 0, mismatches: [] });
    enableOpenApiCheck();
    await checkResponse(base, 'GET', '/v1/things/1?x=1', 200, { id: '1', size: 3 });
    await checkResponse(base, 'GET', '/v1/things/2', 404, { error: {} });
    await checkResponse(base, 'GET', '/v1/unknown', 404, {});
    await checkResponse(base, 'DELETE', '/v1/things/1', 405, {});
    await checkResponse(base, 'GET', '/api/v3/ping', 200, {});
    expect(openApiMismatches()).toEqual({ checked: 2, mismatches: [] });
    await checkResponse(base, 'GET', '/v1/things/3', 200, { id: 3 });
    await checkResponse(base, 'GET', '/v1/things/4', 200, { id: '4', size: -1, extra: true });
    await checkResponse(base, 'GET', '/v1/things/5', 500, { error: {} });
    const { checked, mismatches } = openApiMismatches();
    expect(checked).toBe(5);
    expect(mismatches).toEqual([
      expect.stringMatching(/^GET \/v1\/things\/3 \(\/v1\/things\/\{id\}\) -> 200: body\/id must be string/),
      expect.stringMatching(
        /^GET \/v1\/things\/4 .* -> 200: body must NOT have additional properties, body\/size must be >= 0/,
      ),
      expect.stringMatching(/^GET \/v1\/things\/5 .* -> 500: status not documented \(documented: 200, 404\)/),
    ]);
  });
});
