import type { CancellationReason, StockReleased, StockReservationFailed, StockReserved } from '@app/contracts';
import { accept, reject, unreachable, type Decider, type Decision as DeciderDecision } from '@app/messaging';

/**
 * Inventory's part of the saga, decided purely: given the order's reservation and the stock
 * of the SKUs involved, and one message, what changes and what to send.
 *
 *   (none) ──PaymentAuthorized, all lines fit──▶ RESERVED ──ReleaseStock──▶ RELEASED
 *   (none) ──PaymentAuthorized, a line short──▶ FAILED   (nothing reserved)
 *   (none) ──ReleaseStock──▶ VOIDED  (tombstone: a late PaymentAuthorized reserves nothing)
 *
 * Every ReleaseStock is answered with StockReleased (items empty when nothing moved), however
 * often it comes and in whatever state, because the order waits for that answer to finish.
 */
export type ReservationStatus = 'RESERVED' | 'RELEASED' | 'FAILED' | 'VOIDED';

export type ReservedLine = StockReserved['items'][number];
export type Shortage = StockReservationFailed['shortages'][number];

export interface Reservation {
  status: ReservationStatus;
  /** One line per SKU: what was reserved, or (FAILED) what was asked for; empty when VOIDED. */
  items: ReservedLine[];
  shortages: Shortage[] | null;
}

export interface StockLevel {
  sku: string;
  available: number;
  reserved: number;
}

export interface InventoryState {
  /** This order's reservation; null when Inventory has not heard of the order. */
  reservation: Reservation | null;
  /** The stock rows of the SKUs involved. A SKU with no row is unknown: 0 available. */
  stock: readonly StockLevel[];
}

export type InventoryInput =
  { type: 'PaymentAuthorized'; orderId: string; items: readonly ReservedLine[] } | { type: 'ReleaseStock'; orderId: string; reason: CancellationReason };

export type InventoryOutput =
  | { type: 'StockReserved'; payload: StockReserved }
  | { type: 'StockReservationFailed'; payload: StockReservationFailed }
  | { type: 'StockReleased'; payload: StockReleased };

export type Decision = DeciderDecision<InventoryState, InventoryOutput>;

/** What a decision changes: the reservation to store (absent: as it is) and the stock rows whose levels move. */
interface Changes {
  reservation?: Reservation;
  stock: StockLevel[];
  send: InventoryOutput[];
}

/** Inventory's reservations as a decider: the one shape Order's saga and Payment's payments have too. */
export const reservations: Decider<InventoryState, InventoryInput, InventoryOutput> = { decide };

export function decide(state: InventoryState, input: InventoryInput): Decision {
  const changes = changesFor(state, input);
  if (!('send' in changes)) return changes;
  const moved = new Map(changes.stock.map((s) => [s.sku, s]));
  return accept(
    {
      reservation: changes.reservation ?? state.reservation,
      stock: [...state.stock.map((s) => moved.get(s.sku) ?? s), ...changes.stock.filter((s) => !state.stock.some((t) => t.sku === s.sku))],
    },
    changes.send,
  );
}

function changesFor(state: InventoryState, input: InventoryInput): Changes | { accepted: false; why: string } {
  switch (input.type) {
    case 'PaymentAuthorized':
      return reserve(state, input.orderId, input.items);
    case 'ReleaseStock':
      return release(state, input.orderId, input.reason);
    default:
      return unreachable(input);
  }
}

/**
 * The stock rows a message may touch, so the handler locks exactly those (and in SKU order,
 * which all transactions share and which therefore cannot deadlock).
 */
export function skusToLock(reservation: Reservation | null, input: InventoryInput): string[] {
  if (input.type === 'PaymentAuthorized' && !reservation) return mergeLines(input.items).map((l) => l.sku);
  if (input.type === 'ReleaseStock' && reservation?.status === 'RESERVED') return reservation.items.map((l) => l.sku);
  return [];
}

/** Sums the quantities of lines that name the same SKU, keeping the first line's position. */
export function mergeLines(lines: readonly ReservedLine[]): ReservedLine[] {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
}

function reserve(state: InventoryState, orderId: string, lines: readonly ReservedLine[]): Changes | { accepted: false; why: string } {
  const existing = state.reservation;
  if (existing?.status === 'VOIDED') {
    // The order was released before its payment reached us: reserve nothing, and say so.
    return {
      stock: [],
      send: [{ type: 'StockReservationFailed', payload: { orderId, reason: 'ORDER_CANCELLED', shortages: [] } }],
    };
  }
  if (existing) return reject(`payment already processed; reservation is ${existing.status}`);

  const items = mergeLines(lines);
  const levels = new Map(state.stock.map((s) => [s.sku, s]));
  const levelOf = (sku: string): StockLevel => levels.get(sku) ?? { sku, available: 0, reserved: 0 };

  const shortages: Shortage[] = items
    .filter((l) => levelOf(l.sku).available < l.quantity)
    .map((l) => ({ sku: l.sku, requested: l.quantity, available: levelOf(l.sku).available }));
  if (shortages.length > 0) {
    // All or nothing: one short line means no line is reserved.
    return {
      reservation: { status: 'FAILED', items, shortages },
      stock: [],
      send: [{ type: 'StockReservationFailed', payload: { orderId, reason: 'INSUFFICIENT_STOCK', shortages } }],
    };
  }
  return {
    reservation: { status: 'RESERVED', items, shortages: null },
    stock: items.map((l) => {
      const s = levelOf(l.sku);
      return { sku: l.sku, available: s.available - l.quantity, reserved: s.reserved + l.quantity };
    }),
    send: [{ type: 'StockReserved', payload: { orderId, items } }],
  };
}

function release(state: InventoryState, orderId: string, reason: CancellationReason): Changes {
  const existing = state.reservation;
  const nothingReleased: InventoryOutput = { type: 'StockReleased', payload: { orderId, items: [], reason } };
  if (!existing) {
    return { reservation: { status: 'VOIDED', items: [], shortages: null }, stock: [], send: [nothingReleased] };
  }
  if (existing.status !== 'RESERVED') {
    // FAILED reserved nothing; RELEASED and VOIDED already answered. Nothing moves, but the
    // order may be waiting on this very message, so it is answered again.
    return { stock: [], send: [nothingReleased] };
  }
  const levels = new Map(state.stock.map((s) => [s.sku, s]));
  return {
    reservation: { ...existing, status: 'RELEASED' },
    stock: existing.items.map((l) => {
      // A reserved SKU always has a row; were it missing, `reserved` would go negative and the
      // table's CHECK would fail the transaction loudly rather than invent stock.
      const s = levels.get(l.sku) ?? { sku: l.sku, available: 0, reserved: 0 };
      return { sku: l.sku, available: s.available + l.quantity, reserved: s.reserved - l.quantity };
    }),
    send: [{ type: 'StockReleased', payload: { orderId, items: existing.items, reason } }],
  };
}
