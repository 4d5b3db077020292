import { defineActor, type InitContext } from "troupe";

export interface Order {
  customer: string;
  cents: number;
}

export interface TallyInit {
  /** The stream each order's running tally is written to. */
  out: string;
}

/**
 * A customer's running tally: one durable table entry per customer, and per order one output whose id is
 * the customer and the order's rank, so the same input gives the same outputs whoever handles it, after
 * any number of crashes and handovers, and a redelivered order writes nothing twice.
 */
export default defineActor({
  initialState: ({ tables, init }: InitContext<TallyInit>) => ({
    out: init.out,
    tallies: tables.table<{ orders: number; cents: number }>("tallies"),
  }),
  handle: (state, order: Order) => {
    const tally = state.tallies.get(order.customer) ?? { orders: 0, cents: 0 };
    tally.orders++;
    tally.cents += order.cents;
    state.tallies.set(order.customer, tally);
    return [
      {
        stream: state.out,
        dedupId: `${order.customer}#${tally.orders}`,
        scope: "global" as const,
        payload: { customer: order.customer, orders: tally.orders, cents: tally.cents },
      },
    ];
  },
});
