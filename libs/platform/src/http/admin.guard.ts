import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ProblemException } from './problem';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

/**
 * Compares fixed-length digests in constant time: comparing the tokens themselves needs equal
 * lengths first, and that early answer would tell an attacker the token's length.
 */
export function tokensMatch(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Admin operations need `Authorization: Bearer <ADMIN_TOKEN>`; the token comes from the environment. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(ADMIN_TOKEN) private readonly token: string) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const header = req.headers.authorization ?? '';
    const [scheme, value] = header.split(' ');
    if (!value || scheme?.toLowerCase() !== 'bearer') {
      throw new ProblemException(401, 'Unauthorized', 'This operation needs an admin bearer token', {
        errors: [{ field: 'Authorization', message: 'missing bearer token' }],
      });
    }
    if (!tokensMatch(value, this.token)) {
      throw new ProblemException(403, 'Forbidden', 'The bearer token is not valid', { errors: [{ field: 'Authorization', message: 'invalid token' }] });
    }
    return true;
  }
}
