import { defineActor } from "troupe";

export interface Order {
  customer: string;
  cents: number;
}

/** Flags big orders: each one becomes an output the pump writes to "flagged" before acking the order. */
export default defineActor({
  initialState: () => ({ limit: 10_000 }),
  handle: (state, order: Order) =>
    order.cents > state.limit ? [{ stream: "flagged", dedupId: "big-order", payload: order }] : undefined,
});
