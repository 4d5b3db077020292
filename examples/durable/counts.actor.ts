import { defineActor } from "troupe";

export type CountMessage = { key: string } | { crash: true };

/** Per-key counters in a durable table: restored from the last checkpoint whenever the worker starts. */
export default defineActor({
  initialState: ({ tables }) => ({ counts: tables.table<number>("counts") }),
  handle: (state, message: CountMessage, ctx) => {
    // Dies the first time it sees this message, like a worker killed mid-stream.
    if ("crash" in message) {
      if (ctx.deliveries === 1) process.exit(1);
      return 0;
    }
    const count = (state.counts.get(message.key) ?? 0) + 1;
    state.counts.set(message.key, count);
    return count;
  },
  queries: { count: (state, key: string) => state.counts.get(key) ?? 0 },
});
