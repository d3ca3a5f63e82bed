import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { isNetworkError, type LoggedRequest } from '@trading/nest-common';
import { routeTableOf } from '../common/route-table';
import { dependencyOf } from './dependency-errors';
import { ErrorCode, GatewayException, RETRY_AFTER_SECONDS } from './gateway.exception';

// Fastify's own errors (body parsing, limits) carry these codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.VALIDATION_FAILED,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.MALFORMED_JSON,
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.MALFORMED_JSON,
};

/** A zod error as the first issue's field and message. */
export function fromZodError(
  err: ZodError,
  fallback: ErrorCode = ErrorCode.VALIDATION_FAILED,
): GatewayException {
  const issue = err.issues[0];
  if (!issue) return new GatewayException(fallback, 'invalid request');
  // Unknown keys of a strict object: name the first one.
  const field =
    issue.code === 'unrecognized_keys'
      ? [...issue.path, issue.keys[0]].join('.')
      : issue.path.length > 0
        ? issue.path.join('.')
        : undefined;
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field ${field}` : `${field ?? 'body'}: ${issue.message}`;
  return new GatewayException(fallback, message, field);
}

/** Maps anything thrown while handling a request to a GatewayException. */
export function toGatewayException(err: unknown): GatewayException {
  if (err instanceof GatewayException) return err;
  if (err instanceof ZodError) return fromZodError(err);
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status === 404) return new GatewayException(ErrorCode.NOT_FOUND, 'no such route');
    if (status === 405) return new GatewayException(ErrorCode.METHOD_NOT_ALLOWED, 'method not allowed');
    if (status === 413) return new GatewayException(ErrorCode.PAYLOAD_TOO_LARGE, 'request body too large');
    if (status === 415)
      return new GatewayException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'unsupported content type');
    if (status === 503) return GatewayException.unavailable('service');
    if (status >= 400 && status < 500) return new GatewayException(ErrorCode.VALIDATION_FAILED, err.message);
    return new GatewayException(ErrorCode.INTERNAL_ERROR, 'internal error');
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in FASTIFY_CODES) {
    const mapped = FASTIFY_CODES[code];
    const message =
      mapped === ErrorCode.PAYLOAD_TOO_LARGE
        ? 'request body too large'
        : mapped === ErrorCode.MALFORMED_JSON
          ? 'request body is not valid JSON'
          : mapped === ErrorCode.UNSUPPORTED_MEDIA_TYPE
            ? 'unsupported content type (use application/json)'
            : 'invalid request';
    return new GatewayException(mapped, message);
  }
  // Fastify parse errors without one of the codes above (SyntaxError from JSON.parse).
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (err instanceof SyntaxError || status === 400)
    return new GatewayException(ErrorCode.MALFORMED_JSON, 'request body is not valid JSON');
  if (status === 413) return new GatewayException(ErrorCode.PAYLOAD_TOO_LARGE, 'request body too large');
  // A client library error that escaped a dependency-aware call site is still an outage, not a 500.
  const dependency = dependencyOf(err);
  if (dependency) return GatewayException.dependencyUnavailable(dependency);
  if (isNetworkError(err)) return GatewayException.unavailable('a dependency');
  return new GatewayException(ErrorCode.INTERNAL_ERROR, 'internal error');
}

/** /health/ready's own 503: its body (terminus) names each failing dependency; keep it. */
function readinessFailure(err: unknown, url: string): object | null {
  if (!url.startsWith('/health') || !(err instanceof HttpException) || err.getStatus() !== 503) return null;
  const body = err.getResponse();
  return typeof body === 'object' ? body : null;
}

/**
 * The router's 404 for a path that exists with other methods: 405 with Allow (and those methods
 * in the message), or null.
 */
function methodNotAllowed(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): GatewayException | null {
  if (!(err instanceof NotFoundException)) return null;
  const allowed = routeTableOf(request.server)?.allowed(request.url ?? '') ?? [];
  if (allowed.length === 0) return null;
  void reply.header('Allow', allowed.join(', '));
  return new GatewayException(
    ErrorCode.METHOD_NOT_ALLOWED,
    `method not allowed here; use ${allowed.join(', ')}`,
  );
}

/**
 * Answers a request with the error body of anything thrown while handling it; an INTERNAL_ERROR
 * is logged with its stack. The exception filter and the direct order routes both answer here.
 */
export function replyWithError(reply: FastifyReply, err: unknown, logger: Pick<Logger, 'error'>): void {
  const ex = toGatewayException(err);
  if (ex.code === ErrorCode.INTERNAL_ERROR) {
    logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
  // The request line (installRequestLogging) names the code.
  (reply.request as FastifyRequest & LoggedRequest).errorCode = ex.code;
  if (ex.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(ex.retryAfterSeconds));
  void reply.status(ex.status).send(ex.toBody());
}

/**
 * Every error body is `{ error: { code, message, field?, dependency? } }`; bad input is never a
 * 500, a dependency outage is 503 DEPENDENCY_UNAVAILABLE with Retry-After.
 */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  catch(err: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const readiness = readinessFailure(err, request.url ?? '');
    if (readiness) {
      void reply.header('Retry-After', String(RETRY_AFTER_SECONDS)).status(503).send(readiness);
      return;
    }
    replyWithError(reply, methodNotAllowed(err, request, reply) ?? err, this.logger);
  }
}
