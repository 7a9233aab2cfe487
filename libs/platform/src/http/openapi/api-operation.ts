import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';

export const API_OPERATION = Symbol('API_OPERATION');

/**
 * A schema the handler validates with, or, when the schema is built from the service's
 * configuration (the place-order body's item limit), a function of the controller instance
 * that answers the one the handler uses.
 */
export type SchemaOf<C> = z.ZodType | ((controller: C) => z.ZodType);

/**
 * A response status: its description, and the schema of a JSON answer where one exists. An error
 * status without a schema answers application/problem+json.
 */
export type ApiResponse = string | { description: string; schema?: z.ZodType };

export interface ApiOperationSpec<C = never> {
  summary: string;
  description?: string;
  /** One schema per path parameter (`:id`), as passed to `parseRequest(schema, id, 'id')`. */
  params?: Record<string, z.ZodType>;
  /** The query's z.object, as passed to `parseRequest(schema, query)`. */
  query?: z.ZodType;
  /** Request headers the handler reads, by their canonical name. */
  headers?: Record<string, z.ZodType>;
  /** The JSON body's schema, as passed to `parseRequest(schema, body)`. */
  body?: SchemaOf<C>;
  /**
   * One request the handler accepts (path parameters, query, headers, body), shown on /docs;
   * the e2e suite sends it and expects no validation error.
   */
  example?: { params?: Record<string, string>; query?: Record<string, string>; headers?: Record<string, string>; body?: unknown };
  /**
   * Statuses beyond what the route implies: its success status (from @HttpCode, else 200/201)
   * is added when missing, 400 when it reads input, 401/403 behind AdminGuard, 413/415 with a
   * body. Errors are application/problem+json.
   */
  responses?: Record<number, ApiResponse>;
}

/**
 * Documents a route in the service's OpenAPI document (`/openapi.json`, `/docs`) with the same
 * zod schemas its handler validates with. A route without it is listed as undocumented, and
 * the e2e suite fails on it.
 */
export const ApiOperation = <C = never>(spec: ApiOperationSpec<C>) => SetMetadata(API_OPERATION, spec);
