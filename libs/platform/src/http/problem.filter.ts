import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from '../logging/logger';
import type { ProblemBody } from './problem';

/**
 * Every error leaves as application/problem+json. Body-parser errors (malformed JSON,
 * too large) arrive here as plain errors with a `status`/`type`; anything unexpected is a 500
 * whose details stay in the log, not in the response.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = this.toProblem(exception);
    body.instance = req.originalUrl;
    if (body.status >= 500) {
      this.logger.error('unhandled error in request', {
        method: req.method,
        url: req.originalUrl,
        error: exception instanceof Error ? exception.message : String(exception),
        stack: exception instanceof Error ? exception.stack : undefined,
      });
    }
    res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }

  private toProblem(exception: unknown): ProblemBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      if (typeof response === 'object' && response !== null && 'title' in response) return { ...(response as ProblemBody) };
      const detail = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      return {
        type: `https://httpstatuses.io/${status}`,
        title: exception.name.replace(/Exception$/, ''),
        status,
        detail: Array.isArray(detail) ? detail.join('; ') : String(detail ?? ''),
      };
    }
    const e = exception as { type?: string; status?: number; statusCode?: number; message?: string; limit?: number };
    if (e?.type === 'entity.parse.failed') {
      return {
        type: 'https://httpstatuses.io/400',
        title: 'Malformed JSON',
        status: 400,
        detail: 'The request body is not valid JSON',
        errors: [{ field: '(body)', message: 'malformed JSON' }],
      };
    }
    if (e?.type === 'entity.too.large') {
      return {
        type: 'https://httpstatuses.io/413',
        title: 'Payload Too Large',
        status: 413,
        detail: `The request body exceeds ${e.limit} bytes`,
        errors: [{ field: '(body)', message: `larger than ${e.limit} bytes` }],
      };
    }
    const status = e?.status ?? e?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        type: `https://httpstatuses.io/${status}`,
        title: 'Bad Request',
        status,
        detail: e.message ?? 'Bad request',
        errors: [{ field: '(body)', message: e.message ?? 'bad request' }],
      };
    }
    return { type: 'https://httpstatuses.io/500', title: 'Internal Server Error', status: 500, detail: 'An unexpected error occurred' };
  }
}
