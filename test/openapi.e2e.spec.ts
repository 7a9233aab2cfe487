import { Api, type Reply } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';

type Service = keyof SystemUnderTest['urls'];
const SERVICES: Service[] = ['order', 'payment', 'inventory', 'analytics', 'notification'];

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  example?: string;
}
interface Operation {
  operationId: string;
  'x-undocumented'?: boolean;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { example?: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: { required?: string[] } }> }>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, Operation>>;
}

/** The request an operation's examples make: path parameters substituted, query and headers set. */
function exampleRequest(path: string, op: Operation) {
  const params = op.parameters ?? [];
  const missing = params.filter((p) => p.required && p.example === undefined).map((p) => `${p.in} ${p.name}`);
  // A wildcard parameter (`*name`) spans segments: each is encoded, the slashes stay.
  let url = path.replace(/\{(\w+)\}/g, (_, name: string) =>
    (params.find((p) => p.in === 'path' && p.name === name)?.example ?? '').split('/').map(encodeURIComponent).join('/'),
  );
  const query = new URLSearchParams(params.filter((p) => p.in === 'query' && p.example !== undefined).map((p) => [p.name, p.example!] as [string, string]));
  if (query.size) url += `?${query}`;
  const headers = Object.fromEntries(params.filter((p) => p.in === 'header' && p.example !== undefined).map((p) => [p.name, p.example!] as [string, string]));
  const media = op.requestBody?.content['application/json'];
  if (op.requestBody && media?.example === undefined) missing.push('body');
  return { url, headers, body: media?.example, missing };
}

/**
 * Every service documents every route it serves in its OpenAPI 3.1 document (generated from
 * the zod schemas the handlers validate with), and the example request of each operation is one
 * its handler accepts. /docs is Swagger UI served from the service itself.
 */
describe('OpenAPI documents', () => {
  let sut: SystemUnderTest;
  let api: Api;
  const documents = {} as Record<Service, Document>;

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
    for (const service of SERVICES) {
      const r = await api.get<Document>(service, '/openapi.json');
      expect(r.status).toBe(200);
      documents[service] = r.body;
    }
    // What the examples name: the place-order example's SKU must be in the catalog.
    await api.product('KB-001', 89.9, 100);
    await api.account('alice', 500);
  });
  afterAll(() => sut?.stop());

  it.each(SERVICES)('%s serves an OpenAPI 3.1 document with every route documented', (service) => {
    const doc = documents[service];
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe(`${service} service`);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
    // The document lists every route Nest serves (the walk is checked against Nest's router in
    // openapi-document.unit.spec.ts); one without @ApiOperation is marked, and fails here.
    expect(operations.filter(({ op }) => op['x-undocumented']).map(({ route }) => route)).toEqual([]);
    expect(operations.map(({ route }) => route)).toEqual(expect.arrayContaining(['GET /health/live', 'GET /health/ready']));
    expect(operations.map(({ route }) => route)).toContain('GET /api/admin/dead-letters');
    for (const { route, op } of operations) {
      expect({ route, missingExamples: exampleRequest('', op).missing }).toEqual({ route, missingExamples: [] });
      expect({ route, success: Object.keys(op.responses).some((status) => status.startsWith('2')) }).toEqual({ route, success: true });
    }
  });

  it('documents what each service answers on its own routes', () => {
    expect(Object.keys(documents.order.paths)).toEqual(
      expect.arrayContaining(['/api/orders', '/api/orders/{id}', '/api/orders/{id}/cancel', '/api/products', '/api/products/{sku}']),
    );
    expect(Object.keys(documents.payment.paths)).toEqual(expect.arrayContaining(['/api/accounts/{customerId}', '/api/payments']));
    expect(Object.keys(documents.inventory.paths)).toEqual(expect.arrayContaining(['/api/stock', '/api/stock/{sku}', '/api/reservations']));
    expect(Object.keys(documents.analytics.paths)).toEqual(
      expect.arrayContaining(['/api/analytics/summary', '/api/analytics/archives', '/api/analytics/archives/verifications', '/api/analytics/archives/{name}']),
    );
    const placeOrder = documents.order.paths['/api/orders'].post;
    expect(placeOrder.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
    expect(Object.keys(placeOrder.responses)).toEqual(['202', '400', '413', '415', '422']);
    expect(documents.order.paths['/api/products/{sku}'].put.security).toEqual([{ bearer: [] }]);
    expect(documents.order.paths['/api/products'].get.security).toBeUndefined();
  });

  it.each(SERVICES)('%s accepts the example request of every operation', async (service) => {
    const answers: Array<{ route: string; status: number; documented: boolean; missingFields: string[] }> = [];
    for (const [path, ops] of Object.entries(documents[service].paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const { url, headers, body } = exampleRequest(path, op);
        const auth: Record<string, string> = op.security ? { authorization: `Bearer ${sut.adminToken}` } : {};
        const r: Reply = await api.request(service, method.toUpperCase(), url, body, { ...headers, ...auth });
        // Where the document gives the answer's schema, the answer has the fields it requires.
        const required = op.responses[r.status]?.content?.['application/json']?.schema?.required ?? [];
        const missingFields = required.filter((field) => !(typeof r.body === 'object' && r.body !== null && field in r.body));
        answers.push({ route: `${method.toUpperCase()} ${path}`, status: r.status, documented: String(r.status) in op.responses, missingFields });
        if (r.status === 400 || r.status === 422) throw new Error(`${method.toUpperCase()} ${url} refused its own example: ${JSON.stringify(r.body)}`);
      }
    }
    // Not refused as invalid, not a crash, and a status the document lists.
    for (const a of answers) expect(a).toEqual({ route: a.route, status: expect.any(Number), documented: true, missingFields: [] });
    expect(answers.filter((a) => [400, 401, 403, 415, 422].includes(a.status) || a.status === 500)).toEqual([]);
  });

  it.each(SERVICES)('%s serves /docs with only same-origin assets, under a CSP that allows them', async (service) => {
    const page = await api.get<string>(service, '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    expect(page.body).not.toMatch(/<script>[^<]/);
    for (const ref of refs) {
      expect(ref).toMatch(/^\/[^/]/);
      const asset = await api.get(service, ref);
      expect({ ref, status: asset.status }).toEqual({ ref, status: 200 });
    }
    const init = await api.get<string>(service, '/docs/init.js');
    expect(init.body).toContain("url: '/openapi.json'");
    expect((await api.get(service, '/docs/assets/index.html')).status).toBe(404);
  });
});
