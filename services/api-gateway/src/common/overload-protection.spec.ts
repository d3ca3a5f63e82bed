import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { installOverloadProtection } from './overload-protection';

// The in-flight bound on a real Fastify server and real sockets. Redis is reported as not ready,
// so only the bound is exercised (the rate limits are the integration tests').

interface Harness {
  fastify: FastifyInstance;
  port: number;
  /** Resolves the held /v1/slow requests. */
  releaseSlow(): void;
  /** How many /v1/slow handlers have started. */
  slowStarted(): number;
}

async function harness(maxInFlight: number): Promise<Harness> {
  const fastify = Fastify();
  const app = {
    getHttpAdapter: () => ({ getInstance: () => fastify }),
    get: (token: unknown) =>
      token === RedisService
        ? { redis: { status: 'connecting', defineCommand: () => undefined } }
        : { shed: { inc: () => undefined } },
  } as unknown as NestFastifyApplication;
  installOverloadProtection(app, { MAX_IN_FLIGHT: maxInFlight } as ApiGatewayConfig);
  let waiting: (() => void)[] = [];
  let started = 0;
  fastify.get('/v1/markets', async () => ({ ok: true }));
  fastify.post('/v1/orders', async () => ({ ok: true }));
  fastify.get('/v1/slow', async () => {
    started++;
    await new Promise<void>((r) => waiting.push(r));
    return { ok: true };
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  return {
    fastify,
    port: (fastify.server.address() as AddressInfo).port,
    releaseSlow: () => {
      const w = waiting;
      waiting = [];
      w.forEach((r) => r());
    },
    slowStarted: () => started,
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** POST /v1/orders announcing 100 bytes, 10 of them sent, then the socket closed. */
async function abortedUpload(port: number, reset: boolean): Promise<void> {
  const socket = await openSocket(port);
  socket.write(
    'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"symbol":',
  );
  await pause(30); // the server has the head and is reading the body
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}

describe('overload protection in-flight bound', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    h?.releaseSlow();
    await h?.fastify.close();
    h = undefined;
  });

  it('gives the slot of an aborted upload back (closed or reset), so aborts cannot shut the gateway', async () => {
    h = await harness(2);
    for (let i = 0; i < 6; i++) await abortedUpload(h.port, i % 2 === 1);
    await pause(50);
    const res = await fetch(`http://127.0.0.1:${h.port}/v1/markets`);
    expect(res.status).toBe(200);
  });

  it('keeps the slot of a request whose client left while its handler runs until the handler answers', async () => {
    h = await harness(1);
    const socket = await openSocket(h.port);
    socket.write('GET /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let i = 0; i < 100 && h.slowStarted() === 0; i++) await pause(10);
    socket.destroy();
    await pause(50);
    // The abandoned handler still works: its slot is still taken.
    expect((await fetch(`http://127.0.0.1:${h.port}/v1/markets`)).status).toBe(503);
    h.releaseSlow();
    await pause(50);
    expect((await fetch(`http://127.0.0.1:${h.port}/v1/markets`)).status).toBe(200);
  });

  it('releases each slot once: answered requests whose sockets close afterwards free nothing twice', async () => {
    h = await harness(1);
    for (let i = 0; i < 5; i++) {
      const socket = await openSocket(h.port);
      socket.write('GET /v1/markets HTTP/1.1\r\nHost: x\r\n\r\n');
      await once(socket, 'data');
      socket.destroy();
    }
    await abortedUpload(h.port, false);
    await pause(50);
    // One slot: a held request takes it, the next one is shed.
    const held = fetch(`http://127.0.0.1:${h.port}/v1/slow`);
    for (let i = 0; i < 100 && h.slowStarted() === 0; i++) await pause(10);
    const second = await fetch(`http://127.0.0.1:${h.port}/v1/markets`);
    expect(second.status).toBe(503);
    h.releaseSlow();
    expect((await held).status).toBe(200);
  });
});
