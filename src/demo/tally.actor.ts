import { defineActor } from "../index.ts";

export interface Order {
  customer: string;
  cents: number;
}

/** Totals orders per customer; the demo routes by customer, so each instance owns its customers. */
export default defineActor({
  initialState: () => ({ totals: new Map<string, number>(), orders: 0 }),
  handle: (state, order: Order) => {
    state.orders++;
    state.totals.set(order.customer, (state.totals.get(order.customer) ?? 0) + order.cents);
  },
  queries: { orders: (state) => state.orders, customers: (state) => state.totals.size },
});
