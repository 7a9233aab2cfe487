import type { NextFunction, Request, Response } from 'express';
import { withLogContext } from '../logging/log-context';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** Reads `X-Correlation-Id` (when well-formed) into the log context and echoes it back. */
export function correlationMiddleware(req: Request, res: Response, next: NextFunction): void {
  const header = req.header('x-correlation-id');
  const correlationId = header && SAFE_ID.test(header) ? header : undefined;
  if (correlationId) res.setHeader('X-Correlation-Id', correlationId);
  (req as Request & { correlationId?: string }).correlationId = correlationId;
  withLogContext({ correlationId }, next);
}

export function requestCorrelationId(req: Request): string | undefined {
  return (req as Request & { correlationId?: string }).correlationId;
}
