import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { parseRequest, ProblemException } from '@app/platform';
import { AuditLog } from '../audit/audit-log';
import { SessionGuard, type SessionRequest } from './session.guard';
import { clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie, SessionStore } from './session.store';

const signInBody = z
  .object({
    token: z.string().min(1, 'required').max(512, 'at most 512 characters'),
    name: z
      .string()
      .trim()
      .max(64, 'at most 64 characters')
      .regex(/^[\p{L}\p{N} ._@-]*$/u, 'letters, digits, space and . _ @ - only')
      .optional(),
  })
  .strict();

@Controller('api/session')
export class SessionHttp {
  constructor(
    private readonly sessions: SessionStore,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Signing in: the body must be JSON (the platform refuses anything else with 415), which a
   * cross-site form cannot send, so a sign-in cannot be forged either.
   */
  @Post()
  @HttpCode(200)
  async signIn(@Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = parseRequest(signInBody, body ?? {});
    const actor = b.name || 'admin';
    const session = this.sessions.signIn(b.token, actor);
    await this.audit.record({ actor, action: 'sign-in', target: 'console', result: session ? 'ok' : 'refused' });
    if (!session) throw new ProblemException(401, 'Unauthorized', 'The admin token is not valid', { errors: [{ field: 'token', message: 'not valid' }] });
    res.setHeader('Set-Cookie', sessionCookie(session.id));
    res.setHeader('Cache-Control', 'no-store');
    return { actor, csrfToken: session.csrfToken };
  }

  /** The page asks after a reload: the cookie is HttpOnly, so only the server can tell. */
  @Get()
  @UseGuards(SessionGuard)
  current(@Req() req: SessionRequest, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    return { actor: req.session!.actor, csrfToken: req.session!.csrfToken };
  }

  @Delete()
  @UseGuards(SessionGuard)
  async signOut(@Req() req: Request & SessionRequest, @Res({ passthrough: true }) res: Response) {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id) this.sessions.signOut(id);
    await this.audit.record({ actor: req.session!.actor, action: 'sign-out', target: 'console', result: 'ok' });
    res.setHeader('Set-Cookie', clearedSessionCookie());
    return { signedOut: true };
  }
}
