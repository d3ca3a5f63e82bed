import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const CORRELATION_HEADER = 'x-correlation-id';

const VALID_ID = /^[\w.:-]{1,128}$/;
const NOT_LOGGED = /^\/(metrics|health)(\/|$|\?)/;

/** The caller's x-correlation-id (or x-request-id) when it is a sane token, else a new UUID. */
export function correlationIdOf(req: Pick<IncomingMessage, 'headers'>): string {
  const incoming = req.headers[CORRELATION_HEADER] ?? req.headers['x-request-id'];
  return typeof incoming === 'string' && VALID_ID.test(incoming) ? incoming : randomUUID();
}

/** The part of a pino logger the request lines use. */
export interface RequestLineLogger {
  isLevelEnabled(level: string): boolean;
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Set by a route's error handling so the request line names the error code it answered. */
export interface LoggedRequest {
  errorCode?: string;
}

/**
 * Correlation id and one log line per request, as two plain Fastify hooks: no per-request child
 * logger, no AsyncLocalStorage store, nothing serialised for a request that is not logged. The
 * id is Fastify's request id (BootstrapOptions sets genReqId to correlationIdOf), echoed in
 * x-correlation-id. Lines: 5xx at error, 4xx at warn, the rest at debug; /metrics and /health/*
 * never. They carry no headers, so no credential can reach them.
 */
export function installRequestLogging(fastify: FastifyInstance, log: RequestLineLogger): void {
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    void reply.header(CORRELATION_HEADER, req.id);
    done();
  });
  fastify.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
    if ((level === 'debug' && !log.isLevelEnabled('debug')) || NOT_LOGGED.test(req.url)) return done();
    const errorCode = (req as FastifyRequest & LoggedRequest).errorCode;
    log[level](
      {
        correlationId: req.id,
        req: { method: req.method, url: req.url, remoteAddress: req.ip },
        res: { statusCode: status, ...(errorCode ? { errorCode } : {}) },
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });
}
