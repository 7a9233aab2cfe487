import { Body, Controller, Get, Param, Put, UseGuards, Query } from '@nestjs/common';
import { MoreThan, DataSource } from 'typeorm';
import { z } from 'zod';
import { AdminGuard, ApiOperation, notFound, parseRequest, decodeCursor, pageOf, pageQuery, pageSchema, unprocessable } from '@app/platform';
import { StockEntity } from './stock.entity';
import { MAX_STOCK, setAvailable } from './stock.repository';

import { skuPattern } from '@app/contracts';
const listQuery = z.object(pageQuery).strict();
const skuParam = z.string().regex(skuPattern, 'a SKU of letters, digits and . _ - (at most 64)');

const stockBody = z
  .object({
    available: z.number().int('must be an integer').min(0, 'must not be negative').max(MAX_STOCK, `at most ${MAX_STOCK}`),
  })
  .strict();

const stockView = z.object({ sku: z.string(), available: z.number().int(), reserved: z.number().int() });

const view = (s: { sku: string; available: number; reserved: number }): z.output<typeof stockView> => ({
  sku: s.sku,
  available: s.available,
  reserved: s.reserved,
});

@Controller('api/stock')
export class StockHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @ApiOperation({
    summary: 'Stock levels, by SKU, a page at a time',
    query: listQuery,
    example: { query: { limit: '50' } },
    responses: { 200: { description: 'A page of stock levels', schema: pageSchema(stockView) } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const after = q.cursor ? (decodeCursor(q.cursor, ['string'])[0] as string) : undefined;
    const rows = await this.dataSource.getRepository(StockEntity).find({
      where: after !== undefined ? { sku: MoreThan(after) } : {},
      order: { sku: 'ASC' },
      take: q.limit + 1,
    });
    return pageOf(rows, q.limit, (s) => [s.sku], view);
  }

  @Get(':sku')
  @ApiOperation({
    summary: 'A SKU`s stock: available and reserved',
    params: { sku: skuParam },
    example: { params: { sku: 'KB-001' } },
    responses: { 200: { description: 'The stock', schema: stockView }, 404: 'No stock for this SKU' },
  })
  async get(@Param('sku') sku: string) {
    const key = parseRequest(skuParam, sku, 'sku');
    const row = await this.dataSource.getRepository(StockEntity).findOneBy({ sku: key });
    if (!row) throw notFound(`stock for SKU ${key}`);
    return view(row);
  }

  /** Sets what is available (a stock count, a delivery); reservations held for orders stay. */
  @Put(':sku')
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'Set what is available (admin); reservations held for orders stay',
    params: { sku: skuParam },
    body: stockBody,
    example: { params: { sku: 'KB-001' }, body: { available: 100 } },
    responses: { 200: { description: 'The stock as stored', schema: stockView }, 422: 'Available plus reserved would exceed the maximum' },
  })
  async put(@Param('sku') sku: string, @Body() body: unknown) {
    const key = parseRequest(skuParam, sku, 'sku');
    const b = parseRequest(stockBody, body ?? null);
    const level = await this.dataSource.transaction((m) => setAvailable(m, key, b.available));
    if (!level) {
      throw unprocessable(`${key} has stock reserved for orders; available plus reserved must stay at most ${MAX_STOCK}`, [
        { field: 'available', message: `available plus what is reserved must be at most ${MAX_STOCK}` },
      ]);
    }
    return view(level);
  }
}
