import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { ProblemException, tokensMatch } from '@app/platform';
import { cookieValue, SESSION_COOKIE, type Session, SessionStore } from './session.store';

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

export type SessionRequest = Request & { session?: Session };

/**
 * Every console API call needs a session cookie; every state-changing one also the session's
 * CSRF token in a header. A page of another origin can make the browser send the cookie (were
 * it not SameSite=Strict) but can neither read the token nor set a custom header without CORS,
 * which the console never answers.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(private readonly sessions: SessionStore) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<SessionRequest>();
    const session = this.sessions.find(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!session) throw new ProblemException(401, 'Unauthorized', 'Sign in first', { errors: [{ field: 'Cookie', message: 'no valid session' }] });
    if (!SAFE_METHODS.includes(req.method)) {
      const given = req.headers[CSRF_HEADER];
      if (typeof given !== 'string' || !tokensMatch(given, session.csrfToken)) {
        throw new ProblemException(403, 'Forbidden', 'A state-changing request needs the session CSRF token', {
          errors: [{ field: 'X-CSRF-Token', message: 'missing or wrong' }],
        });
      }
    }
    req.session = session;
    return true;
  }
}
