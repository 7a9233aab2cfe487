import { Body, Controller, Get, Param, Put, UseGuards, Query } from '@nestjs/common';
import { MoreThan, DataSource, type EntityManager } from 'typeorm';
import { z } from 'zod';
import { majorAmount, skuPattern, toMajor, toMinor } from '@app/contracts';
import { dialectOf } from '@app/persistence';
import { AdminGuard, ApiOperation, parseRequest, decodeCursor, pageOf, pageQuery, pageSchema } from '@app/platform';
import { PriceCache } from './price-cache';
import { ProductEntity } from './product.entity';

// No control characters: PostgreSQL refuses NUL in text, and a name is shown to people.
const productBody = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^\p{Cc}]*$/u, 'no control characters'),
    unitPrice: majorAmount,
  })
  .strict();
const listQuery = z.object(pageQuery).strict();
const skuParam = z.string().regex(skuPattern, 'a SKU of letters, digits and . _ - (at most 64)');

const productView = z.object({ sku: z.string(), name: z.string(), unitPrice: z.number(), updatedAt: z.iso.datetime() });

const view = (p: ProductEntity): z.output<typeof productView> => ({
  sku: p.sku,
  name: p.name,
  unitPrice: toMajor(Number(p.unitPrice)),
  updatedAt: p.updatedAt.toISOString(),
});

@Controller('api/products')
export class ProductsHttp {
  constructor(
    private readonly dataSource: DataSource,
    private readonly prices: PriceCache,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The catalog, by SKU, a page at a time',
    query: listQuery,
    example: { query: { limit: '50' } },
    responses: { 200: { description: 'A page of products', schema: pageSchema(productView) } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const after = q.cursor ? (decodeCursor(q.cursor, ['string'])[0] as string) : undefined;
    const rows = await this.dataSource.getRepository(ProductEntity).find({
      where: after !== undefined ? { sku: MoreThan(after) } : {},
      order: { sku: 'ASC' },
      take: q.limit + 1,
    });
    return pageOf(rows, q.limit, (p) => [p.sku], view);
  }

  @Put(':sku')
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'Add a product or change its name and price (admin)',
    params: { sku: skuParam },
    body: productBody,
    example: { params: { sku: 'KB-001' }, body: { name: 'Mechanical keyboard', unitPrice: 89.9 } },
    responses: { 200: { description: 'The product as stored', schema: productView } },
  })
  async put(@Param('sku') sku: string, @Body() body: unknown) {
    const key = parseRequest(skuParam, sku, 'sku');
    const b = parseRequest(productBody, body ?? null);
    const upsert = (m: EntityManager) =>
      m.getRepository(ProductEntity).upsert({ sku: key, name: b.name, unitPrice: toMinor(b.unitPrice), updatedAt: new Date() }, ['sku']);
    // PostgreSQL's ON CONFLICT is atomic; on SQL Server the upsert is a MERGE, atomic against a
    // concurrent PUT of the same new SKU only under SERIALIZABLE (what MERGE's HOLDLOCK does).
    if (dialectOf(this.dataSource) === 'mssql') await this.dataSource.transaction('SERIALIZABLE', upsert);
    else await upsert(this.dataSource.manager);
    this.prices.forget([key]);
    return view((await this.dataSource.getRepository(ProductEntity).findOneBy({ sku: key }))!);
  }
}
