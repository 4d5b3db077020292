/**
 * How the analyzers keep their state in the runtime's durable tables (src/runtime/durable-table.ts), so a
 * restarted analyzer continues where the crashed one stopped. Each detector gets its tables under its own
 * name (`fresh_sniper.launches`), and the scalars of a component (clocks, next-sweep times, counters) live
 * as one value of a table, beside the maps they go with.
 */
import type { DurableTable, Tables } from "../../runtime/durable-table.ts";

/** The tables of `tables` under `prefix`: a detector declares `launches`, the store sees `fresh_sniper.launches`. */
export function scopedTables(tables: Tables, prefix: string): Tables {
  return {
    table: (name, codec) => tables.table(`${prefix}.${name}`, codec),
    beforeCheckpoint: (write) => tables.beforeCheckpoint(write),
  };
}

/** The one key a table of {@link Scalars} holds. */
const KEY = "_";

/**
 * A component's scalars as one durable value: `value` is the live object (restored when there was one);
 * after changing a field, `changed()` marks it for the next checkpoint.
 */
export class Scalars<T extends object> {
  readonly value: T;
  readonly #table: DurableTable<T>;

  constructor(tables: Tables, name: string, initial: T) {
    this.#table = tables.table<T>(name);
    const restored = this.#table.get(KEY);
    this.value = restored ?? initial;
    if (restored === undefined) this.#table.set(KEY, initial);
  }

  changed(): void {
    this.#table.touch(KEY);
  }
}
