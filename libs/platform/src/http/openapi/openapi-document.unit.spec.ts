import { Body, Controller, Delete, Get, HttpCode, Module, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { z } from 'zod';
import { ADMIN_TOKEN, AdminGuard } from '../admin.guard';
import { parseRequest } from '../validation';
import { ApiOperation } from './api-operation';
import { openApiDocument, openApiPath, routesOf, routesOfControllers, undocumented } from './openapi-document';

const widgetId = z.string().uuid('must be a UUID');
const listQuery = z.object({ colour: z.enum(['red', 'blue']), limit: z.coerce.number().int().min(1).max(10).default(5) }).strict();
const widgetBody = z.object({ name: z.string().min(1), size: z.number().int().optional() }).strict();

@Controller('api/widgets')
class WidgetsHttp {
  readonly maxSize = 3;
  readonly sized = z.object({ size: z.number().max(this.maxSize) });

  @Get()
  @ApiOperation({ summary: 'List widgets', query: listQuery, example: { query: { colour: 'red' } } })
  list(@Query() query: unknown) {
    return parseRequest(listQuery, query);
  }

  @Put(':id')
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'Store a widget',
    params: { id: widgetId },
    body: widgetBody,
    example: { params: { id: '7f3b8f0e-2a4c-4d5e-9f10-1a2b3c4d5e6f' }, body: { name: 'w' } },
    responses: { 200: { description: 'The widget', schema: widgetBody }, 404: 'No such widget' },
  })
  put(@Param('id') id: string, @Body() body: unknown) {
    return { id: parseRequest(widgetId, id, 'id'), ...parseRequest(widgetBody, body) };
  }

  @Post(':id/resize')
  @HttpCode(202)
  @ApiOperation<WidgetsHttp>({ summary: 'Resize', body: (self) => self.sized })
  resize(@Body() body: unknown) {
    return parseRequest(this.sized, body);
  }

  @Delete('*rest')
  forget() {
    return {};
  }

  helper() {
    return 'not a route';
  }
}

@Module({ controllers: [WidgetsHttp], providers: [{ provide: ADMIN_TOKEN, useValue: 'x'.repeat(24) }] })
class WidgetsModule {}

describe('the OpenAPI document', () => {
  const document = openApiDocument(routesOfControllers([{ controller: WidgetsHttp, instance: new WidgetsHttp() }]), { title: 'widgets', version: '1' });
  const paths = document.paths as Record<string, Record<string, any>>;

  it('is OpenAPI 3.1 with a path per route, in OpenAPI path syntax', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(paths).sort()).toEqual(['/api/widgets', '/api/widgets/{id}', '/api/widgets/{id}/resize', '/api/widgets/{rest}']);
    expect(openApiPath('/a/:id/b/*rest')).toEqual({ path: '/a/{id}/b/{rest}', params: ['id', 'rest'] });
  });

  it('lists a route without @ApiOperation as undocumented', () => {
    expect(undocumented(document)).toEqual(['DELETE /api/widgets/{rest}']);
    expect(paths['/api/widgets/{rest}'].delete['x-undocumented']).toBe(true);
  });

  it("describes the query with the handler's schema: one parameter per field, required unless optional or defaulted", () => {
    const op = paths['/api/widgets'].get;
    expect(op.parameters).toEqual([
      { name: 'colour', in: 'query', required: true, schema: { type: 'string', enum: ['red', 'blue'] }, example: 'red' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10, default: 5 } },
    ]);
    expect(Object.keys(op.responses)).toEqual(['200', '400']);
    expect(op.security).toBeUndefined();
  });

  it('describes path parameters, the body and its example, admin access and the statuses the route implies', () => {
    const op = paths['/api/widgets/{id}'].put;
    expect(op.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: expect.objectContaining({ type: 'string', format: 'uuid' }), example: expect.any(String) },
    ]);
    expect(op.requestBody).toEqual({
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { name: { type: 'string', minLength: 1 }, size: { type: 'integer', minimum: expect.any(Number), maximum: expect.any(Number) } },
            required: ['name'],
            additionalProperties: false,
          },
          example: { name: 'w' },
        },
      },
    });
    expect(op.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(op.responses)).toEqual(['200', '400', '401', '403', '404', '413', '415']);
    expect(op.responses[200].content['application/json'].schema.properties.name).toEqual({ type: 'string', minLength: 1 });
    expect(op.responses[404]).toEqual({
      description: 'No such widget',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    });
    expect(document.components).toMatchObject({ securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Problem: expect.any(Object) } });
  });

  it('takes a schema built by the controller from the controller, and the success status from @HttpCode', () => {
    const op = paths['/api/widgets/{id}/resize'].post;
    expect(op.requestBody.content['application/json'].schema.properties.size).toEqual({ type: 'number', maximum: 3 });
    expect(Object.keys(op.responses)).toContain('202');
    expect(op.parameters[0]).toEqual({ name: 'id', in: 'path', required: true, schema: { type: 'string' } });
  });

  it("every example is one the handler's schemas accept", () => {
    expect(listQuery.safeParse({ colour: 'red' }).success).toBe(true);
    expect(widgetBody.safeParse(paths['/api/widgets/{id}'].put.requestBody.content['application/json'].example).success).toBe(true);
  });

  it('finds exactly the routes Nest serves', async () => {
    const app = await NestFactory.create(WidgetsModule, { logger: false });
    try {
      await app.init();
      type Layer = { route?: { path: string; methods: Record<string, boolean> } };
      const router = (app.getHttpAdapter().getInstance() as unknown as { router: { stack: Layer[] } }).router;
      const served = router.stack
        .filter((layer) => layer.route)
        .flatMap((layer) => Object.keys(layer.route!.methods).map((m) => `${m} ${layer.route!.path}`))
        .filter((r) => !r.startsWith('_all'));
      expect(
        routesOf(app)
          .map((r) => `${r.method} ${r.path}`)
          .sort(),
      ).toEqual(served.sort());
    } finally {
      await app.close();
    }
  });
});
