import { Body, Controller, Get, Param, Put, UseGuards } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { AdminGuard, notFound, parseRequest } from '@app/platform';
import { StockEntity } from './stock.entity';
import { setAvailable } from './stock.repository';

import { skuPattern } from '@app/contracts';
const skuParam = z.string().regex(skuPattern, 'a SKU of letters, digits and . _ - (at most 64)');

/** The stock column is a 32-bit int (PostgreSQL and SQL Server); a larger number would fail in the database, not here. */
const MAX_STOCK = 2_147_483_647;
const stockBody = z
  .object({
    available: z.number().int('must be an integer').min(0, 'must not be negative').max(MAX_STOCK, `at most ${MAX_STOCK}`),
  })
  .strict();

const view = (s: { sku: string; available: number; reserved: number }) => ({ sku: s.sku, available: s.available, reserved: s.reserved });

@Controller('api/stock')
export class StockHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  async list() {
    const rows = await this.dataSource.getRepository(StockEntity).find({ order: { sku: 'ASC' } });
    return { items: rows.map(view) };
  }

  @Get(':sku')
  async get(@Param('sku') sku: string) {
    const key = parseRequest(skuParam, sku, 'sku');
    const row = await this.dataSource.getRepository(StockEntity).findOneBy({ sku: key });
    if (!row) throw notFound(`stock for SKU ${key}`);
    return view(row);
  }

  /** Sets what is available (a stock count, a delivery); reservations held for orders stay. */
  @Put(':sku')
  @UseGuards(AdminGuard)
  async put(@Param('sku') sku: string, @Body() body: unknown) {
    const key = parseRequest(skuParam, sku, 'sku');
    const b = parseRequest(stockBody, body ?? null);
    return view(await this.dataSource.transaction((m) => setAvailable(m, key, b.available)));
  }
}
