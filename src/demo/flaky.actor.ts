import { defineActor } from "../index.ts";

/** Crashes its worker (process.exit) after `crashEvery` messages, to show supervision and redelivery. */
export default defineActor({
  initialState: ({ init }: { init: { crashEvery: number } }) => ({ handled: 0, crashEvery: init.crashEvery }),
  handle: (state, _message: number) => {
    if (++state.handled === state.crashEvery) process.exit(1);
  },
});
