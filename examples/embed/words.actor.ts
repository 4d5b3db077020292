import { defineActor } from "troupe";

export type WordMessage = { add: string } | { count: string };

/** Counts words; each instance owns the words its key routes to it. */
export default defineActor({
  initialState: () => new Map<string, number>(),
  handle: (counts, message: WordMessage) => {
    if ("add" in message) {
      counts.set(message.add, (counts.get(message.add) ?? 0) + 1);
      return undefined;
    }
    return counts.get(message.count) ?? 0;
  },
  queries: {
    top: (counts, n: number) => [...counts].sort((a, b) => b[1] - a[1]).slice(0, n),
  },
});
