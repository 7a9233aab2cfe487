import type { Express, Request, Response } from 'express';
import { dirname } from 'node:path';
import type { OpenApiDocument } from './openapi-document';

/** The files of swagger-ui-dist the page loads, served from node_modules: nothing from the internet. */
const ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png']);
const assetRoot = () => dirname(require.resolve('swagger-ui-dist/package.json'));

/**
 * helmet's CSP lets an answer load nothing; the page needs its own scripts and styles (Swagger UI
 * sets inline styles), the icons its CSS inlines, and fetches to this origin (the document, and
 * "Try it out").
 */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string) => `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${escapeHtml(title)}</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// A file of its own, not an inline script: the CSP allows scripts from this origin only.
// No validator badge: it would send the document to validator.swagger.io.
const INITIALIZER = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });\n`;

/**
 * `GET /openapi.json` (the document, serialized once) and `GET /docs` (Swagger UI over it), both
 * without a token like /health and /metrics: they describe the API, they do not reach its data.
 */
export function mountApiDocs(server: Express, document: OpenApiDocument): void {
  const json = JSON.stringify(document);
  const html = page(document.info.title);
  server.get('/openapi.json', (_req: Request, res: Response) => {
    res.type('application/json').send(json);
  });
  server.get('/docs', (_req: Request, res: Response) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.type('text/html').send(html);
  });
  server.get('/docs/init.js', (_req: Request, res: Response) => {
    res.type('text/javascript').send(INITIALIZER);
  });
  server.get('/docs/assets/:file', (req: Request, res: Response) => {
    const file = String(req.params.file);
    if (!ASSETS.has(file)) {
      res
        .status(404)
        .type('application/problem+json')
        .send(JSON.stringify({ type: 'https://httpstatuses.io/404', title: 'Not Found', status: 404, instance: req.originalUrl }));
      return;
    }
    res.sendFile(file, { root: assetRoot(), maxAge: '1d' });
  });
}
