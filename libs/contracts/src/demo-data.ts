/**
 * Demo reference data, seeded by each service on first start when SEED_DEMO_DATA is on.
 * Kept in one place so the catalog (Order), stock (Inventory) and accounts (Payment) agree.
 * Prices and balances in minor units.
 */
export const demoProducts = [
  { sku: 'KB-001', name: 'Mechanical keyboard', unitPrice: 8900, stock: 100 },
  { sku: 'MS-002', name: 'Wireless mouse', unitPrice: 2950, stock: 200 },
  { sku: 'MN-003', name: '27" monitor', unitPrice: 24900, stock: 25 },
  { sku: 'HS-004', name: 'Headset', unitPrice: 5900, stock: 50 },
  { sku: 'CB-005', name: 'USB-C cable', unitPrice: 990, stock: 1000 },
];

export const demoAccounts = [
  { customerId: 'alice', balance: 100_000 },
  { customerId: 'bob', balance: 5_000 },
  { customerId: 'carol', balance: 1_000_000 },
];
