import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayException } from './gateway.exception';

// Fastify and Node answer some requests before any route or hook runs: a path parameter over
// maxParamLength (414), a URL that does not decode (400), headers over the size limit (431), a
// request the HTTP parser refuses (Content-Length with Transfer-Encoding, a bad request line).
// Their own bodies echo the URL; these answer in the platform's shape and echo nothing.

/** Fastify's `frameworkErrors` option: router errors as GatewayExceptions. */
export function frameworkErrors(err: { code?: string }, _request: FastifyRequest, reply: FastifyReply): void {
  const ex =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new GatewayException(ErrorCode.URI_TOO_LONG, 'a path segment is too long')
      : err.code === 'FST_ERR_BAD_URL'
        ? new GatewayException(ErrorCode.MALFORMED_REQUEST, 'the URL is not valid (percent-encoding)')
        : new GatewayException(ErrorCode.INTERNAL_ERROR, 'internal error');
  void reply.code(ex.status).header('content-type', 'application/json').send(ex.toBody());
}

/** The answer to a request Node's HTTP parser refused, as the raw response it writes. */
export function clientErrorResponse(code: string | undefined): string {
  const ex =
    code === 'HPE_HEADER_OVERFLOW'
      ? new GatewayException(ErrorCode.HEADERS_TOO_LARGE, 'request headers too large')
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new GatewayException(ErrorCode.REQUEST_TIMEOUT, 'request not received in time')
        : new GatewayException(ErrorCode.MALFORMED_REQUEST, 'malformed HTTP request');
  const body = JSON.stringify(ex.toBody());
  return (
    `HTTP/1.1 ${ex.status} ${STATUS_CODES[ex.status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Fastify's `clientErrorHandler` option (its default writes its own shape). */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) socket.write(clientErrorResponse(err.code));
  socket.destroy(err);
}

/** The server options that give Fastify's own errors the platform's shape. */
export const GATEWAY_SERVER_OPTIONS = { frameworkErrors, clientErrorHandler };
