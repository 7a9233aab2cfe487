import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { z } from 'zod';
import { notFound, parseRequest, unavailable } from '@app/platform';
import { CONSOLE_CONFIG, type ConsoleConfig } from '../config';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * Everything the page loads comes from here (no CDN): the platform's API headers forbid a
 * page from loading anything, so these answers widen the policy to this origin only.
 */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const assetName = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'an asset name');

/** Where the built page is: the first candidate with an index.html, else the last one (to name it). */
export function webDirectory(config: Pick<ConsoleConfig, 'webDir'>): string {
  // dist/services/console/src/web/ -> dist/console-web when built; from the sources (tests),
  // the working directory's dist/console-web.
  const candidates = config.webDir ? [resolve(config.webDir)] : [resolve(__dirname, '..', '..', '..', '..', 'console-web'), resolve('dist', 'console-web')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[candidates.length - 1]!;
}

/** The single-page app that `npm run build` (Vite) writes into CONSOLE_WEB_DIR. */
@Controller()
export class WebHttp {
  private readonly dir: string;

  constructor(@Inject(CONSOLE_CONFIG) config: ConsoleConfig) {
    this.dir = webDirectory(config);
  }

  @Get()
  async index(@Res() res: Response) {
    await this.send(res, 'index.html', 'no-cache');
  }

  /** Vite names assets by content hash: they never change, so they may be kept. */
  @Get('assets/:file')
  async asset(@Param('file') file: string, @Res() res: Response) {
    await this.send(res, join('assets', parseRequest(assetName, file, 'file')), 'public, max-age=31536000, immutable');
  }

  private async send(res: Response, path: string, cacheControl: string) {
    let body: Buffer;
    try {
      body = await readFile(join(this.dir, path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (path === 'index.html') throw unavailable(`the console's page is not built: run npm run build (looked in ${this.dir})`);
      throw notFound(path);
    }
    res
      .status(200)
      .setHeader('Content-Security-Policy', PAGE_POLICY)
      .setHeader('Cache-Control', cacheControl)
      .type(TYPES[extname(path)] ?? 'application/octet-stream')
      .send(body);
  }
}
