import { HttpStatus, RequestMethod, type INestApplication, type Type } from '@nestjs/common';
import { GUARDS_METADATA, HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import { z } from 'zod';
import { AdminGuard } from '../admin.guard';
import { API_OPERATION, type ApiOperationSpec, type ApiResponse } from './api-operation';

/** A route as Nest serves it: the controller's and the handler's metadata, as its router reads them. */
export interface DiscoveredRoute {
  method: string;
  /** Express path template, e.g. `/api/orders/:id`, `/api/analytics/archives/*name`. */
  path: string;
  controller: Type;
  handlerName: string;
  /** The controller instance (undefined when walking classes without an app). */
  instance?: object;
}

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
}

const asArray = (p: unknown): string[] => (Array.isArray(p) ? p : [p ?? '']).map(String);
const joinPath = (...parts: string[]) => '/' + parts.join('/').split('/').filter(Boolean).join('/');

/** Every route of the given controllers, read from the metadata Nest's router explorer reads. */
export function routesOfControllers(controllers: Array<{ controller: Type; instance?: object }>): DiscoveredRoute[] {
  const scanner = new MetadataScanner();
  const routes: DiscoveredRoute[] = [];
  for (const { controller, instance } of controllers) {
    const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, controller));
    for (const handlerName of scanner.getAllMethodNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[handlerName] as object;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as unknown;
      if (paths === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
      for (const prefix of prefixes)
        for (const path of asArray(paths)) routes.push({ method, path: joinPath(prefix, path), controller, handlerName, instance });
    }
  }
  return routes;
}

/** Every route the app's modules serve (no global prefix, router module or versioning is in use). */
export function routesOf(app: INestApplication): DiscoveredRoute[] {
  const controllers = [...app.get(ModulesContainer).values()].flatMap((module) =>
    [...module.controllers.values()].map((wrapper) => ({ controller: wrapper.metatype as Type, instance: wrapper.instance as object | undefined })),
  );
  return routesOfControllers(controllers);
}

/** `/a/:id/*rest` → `/a/{id}/{rest}`, and the parameter names in order. */
export function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/[:*]([A-Za-z0-9_]+)/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted, params };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const optional = (schema: z.ZodType) => schema.safeParse(undefined).success;

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const STANDARD_ERRORS: Record<number, string> = {
  400: 'The request is malformed: the problem names each offending field',
  401: 'No admin bearer token',
  403: 'The bearer token is not the admin token',
  413: 'The body is larger than the service accepts',
  415: 'The body is not application/json',
};

const isAdmin = (route: DiscoveredRoute) =>
  [route.controller, (route.controller.prototype as Record<string, object>)[route.handlerName]].some((target) =>
    ((Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined) ?? []).includes(AdminGuard),
  );

function successStatus(route: DiscoveredRoute): number {
  const handler = (route.controller.prototype as Record<string, object>)[route.handlerName];
  const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
  return code ?? (route.method === 'post' ? HttpStatus.CREATED : HttpStatus.OK);
}

function operation(route: DiscoveredRoute, spec: ApiOperationSpec<object>, params: string[]): Operation {
  const example = spec.example ?? {};
  const parameters: Operation[] = params.map((name) => {
    const schema = spec.params?.[name];
    return { name, in: 'path', required: true, schema: schema ? jsonSchema(schema, 'input') : { type: 'string' }, ...exampleOf(example.params, name) };
  });
  if (spec.query) {
    const query = jsonSchema(spec.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema, ...exampleOf(example.query, name) });
    }
  }
  for (const [name, schema] of Object.entries(spec.headers ?? {})) {
    parameters.push({ name, in: 'header', required: !optional(schema), schema: jsonSchema(schema, 'input'), ...exampleOf(example.headers, name) });
  }
  const body = typeof spec.body === 'function' ? spec.body(route.instance ?? {}) : spec.body;
  const admin = isAdmin(route);

  const responses: Record<string, unknown> = {};
  const declared: Record<number, ApiResponse> = { ...spec.responses };
  const success = successStatus(route);
  declared[success] ??= HttpStatus[success] ?? 'Success';
  const implied = [...(parameters.length || body ? [400] : []), ...(admin ? [401, 403] : []), ...(body ? [413, 415] : [])];
  for (const status of implied) declared[status] ??= STANDARD_ERRORS[status];
  const statuses = Object.keys(declared)
    .map(Number)
    .sort((a, b) => a - b);
  for (const status of statuses) {
    const r = declared[status];
    const { description, schema } = typeof r === 'string' ? { description: r, schema: undefined } : r;
    responses[status] =
      status >= 400 && !schema
        ? problemResponse(description)
        : { description, ...(schema ? { content: { 'application/json': { schema: jsonSchema(schema, 'output') } } } : {}) };
  }

  return {
    operationId: `${route.controller.name.replace(/(Http|Controller)$/, '')}.${route.handlerName}`,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [tagOf(route)],
    ...(parameters.length ? { parameters } : {}),
    ...(body
      ? {
          requestBody: {
            required: !optional(body),
            content: { 'application/json': { schema: jsonSchema(body, 'input'), ...('body' in example ? { example: example.body } : {}) } },
          },
        }
      : {}),
    responses,
    ...(admin ? { security: [{ bearer: [] }] } : {}),
  };
}

const exampleOf = (examples: Record<string, string> | undefined, name: string) => (examples && name in examples ? { example: examples[name] } : {});

/** The controller's path without `api/`: `orders`, `analytics/archives`, `admin/dead-letters`. */
const tagOf = (route: DiscoveredRoute) => asArray(Reflect.getMetadata(PATH_METADATA, route.controller))[0].replace(/^\/?(api\/)?/, '') || 'service';

/**
 * The OpenAPI 3.1 document of the given routes, built once at start-up. A route without
 * @ApiOperation is still listed, marked `x-undocumented`, so that it cannot go unnoticed.
 */
export function openApiDocument(routes: DiscoveredRoute[], info: { title: string; version: string; description?: string }): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const handler = (route.controller.prototype as Record<string, object>)[route.handlerName];
    const spec = Reflect.getMetadata(API_OPERATION, handler) as ApiOperationSpec<object> | undefined;
    const { path, params } = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = spec
      ? operation(route, spec, params)
      : {
          operationId: `${route.controller.name}.${route.handlerName}`,
          summary: `Undocumented: ${route.controller.name}.${route.handlerName} has no @ApiOperation`,
          'x-undocumented': true,
          responses: { default: { description: 'Undocumented' } },
        };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the service' } },
      schemas: { Problem: PROBLEM_SCHEMA },
    },
  };
}

/** Routes listed without documentation. */
export function undocumented(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op['x-undocumented'])
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
}

/** RFC 9457 problem details, as `libs/platform/src/http/problem.ts` writes them. */
const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'Each offending field: `items[1].sku`, `Idempotency-Key`, `Authorization`, `Content-Type`, `(body)`',
      items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  additionalProperties: true,
};
