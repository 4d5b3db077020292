/**
 * What a scanner run left in Redis, read with a plain client: the groups' progress (XINFO GROUPS), who
 * holds which pending entries, whether everything is drained, and the alerts stream's entries.
 */
import Redis, { Cluster } from "ioredis";
import { Packr } from "msgpackr";
import { partitionKey } from "../../../src/streams/partitions.ts";
import { type AlertRecord, asAlertRecord } from "./alert-records.ts";

/** Troupe's entry payloads: msgpack (plain maps) in field `d`, or JSON text in field `json`. */
const packr = new Packr({ useRecords: false });
const decoders: Record<string, (bytes: Buffer) => unknown> = {
  d: (bytes) => packr.unpack(bytes),
  json: (bytes) => JSON.parse(bytes.toString("utf8")),
};

export interface GroupState {
  stream: string;
  name: string;
  pending: number;
  lastDeliveredId: string;
  /** Entries the group has read (delivered at least once): the run's progress. */
  entriesRead: number | null;
  /** Null when Redis cannot tell (after a trim or delete). */
  lag: number | null;
}

export class ScannerRedis {
  readonly tx: string;
  /** The tx stream keyed by mint: its partitions' keys (the mint analyzer's). */
  readonly mints: readonly string[];
  readonly findings: string;
  readonly alerts: string;
  readonly #prefix: string;
  readonly #client: Redis | Cluster;

  /** `server`: a Redis URL, or a cluster's seed nodes. */
  constructor(server: string | readonly string[], prefix: string, partitions = 0) {
    this.tx = `${prefix}tx`;
    this.mints = Array.from({ length: partitions }, (_, i) =>
      partitionKey(`${prefix}tx:mint`, i, partitions),
    );
    this.findings = `${prefix}findings`;
    this.alerts = `${prefix}alerts`;
    this.#prefix = prefix;
    this.#client =
      typeof server === "string"
        ? new Redis(server, { protocol: 2 })
        : new Cluster(
            server.map((node) => {
              const [host, port] = node.split(":");
              return { host: host!, port: Number(port) };
            }),
            { redisOptions: { protocol: 2 } },
          );
  }

  async groups(stream: string): Promise<GroupState[]> {
    const rows = (await this.#client.xinfo("GROUPS", stream).catch(noStream([]))) as unknown[][];
    return rows.map((row) => {
      const field = new Map<string, unknown>();
      for (let i = 0; i + 1 < row.length; i += 2) field.set(String(row[i]), row[i + 1]);
      const number = (name: string) => (field.get(name) === null ? null : Number(field.get(name)));
      return {
        stream,
        name: String(field.get("name")),
        pending: Number(field.get("pending")),
        lastDeliveredId: String(field.get("last-delivered-id")),
        entriesRead: number("entries-read"),
        lag: number("lag"),
      };
    });
  }

  /** The fewest entries any analyzer group has read from the tx stream (0 before the groups exist). */
  async progress(): Promise<number> {
    const groups = await this.groups(this.tx);
    if (groups.length === 0) return 0;
    return Math.min(...groups.map((g) => g.entriesRead ?? 0));
  }

  /**
   * Every group of the streams has read everything and holds nothing pending. They are read in the order
   * entries cause writes (tx and its keyed partitions → findings → alerts): an output is written before the
   * entry that caused it is acked, so once a stream's groups are done, the next stream's figures are final.
   */
  async drained(expectedGroups: number): Promise<boolean> {
    const all: GroupState[] = [];
    for (const stream of [this.tx, ...this.mints, this.findings, this.alerts]) {
      const last = await this.#lastGeneratedId(stream);
      for (const g of await this.groups(stream)) {
        const caughtUp = g.lag === 0 || (g.lag === null && g.lastDeliveredId === last);
        if (g.pending > 0 || !caughtUp) return false;
        all.push(g);
      }
    }
    return all.length === expectedGroups;
  }

  /** Pending entry ids of a group, optionally only those `consumer` holds. */
  async pendingIds(stream: string, group: string, consumer?: string): Promise<string[]> {
    const rows = (
      consumer === undefined
        ? await this.#client.xpending(stream, group, "-", "+", 100_000)
        : await this.#client.xpending(stream, group, "-", "+", 100_000, consumer)
    ) as Array<[string, ...unknown[]]>;
    return rows.map(([id]) => id);
  }

  /** Every entry of the alerts stream, in stream order (a duplicate would show twice). */
  async alertEntries(): Promise<AlertRecord[]> {
    const records: AlertRecord[] = [];
    let start = "-";
    for (;;) {
      const page = await this.#client.xrangeBuffer(this.alerts, start, "+", "COUNT", 1000);
      for (const [id, fields] of page) records.push(asAlertRecord(decodeEntry(id.toString(), fields)));
      if (page.length < 1000) return records;
      start = `(${page.at(-1)?.[0].toString()}`;
    }
  }

  /**
   * Entries in each dead-letter stream, by stream: an entry a pump dead-letters (given up after too many
   * deliveries, say) is one an analyzer skipped, which changes every later position it counts.
   */
  async deadLetters(): Promise<Record<string, number>> {
    const names = ["tx:dlq", "findings:dlq", "alerts:dlq"].map((name) => `${this.#prefix}${name}`);
    names.push(...this.mints.map((key) => `${key}:dlq`));
    const lengths = await Promise.all(names.map((name) => this.#client.xlen(name)));
    const short = (name: string) => (name.startsWith(this.#prefix) ? name.slice(this.#prefix.length) : name);
    return Object.fromEntries(names.map((name, i) => [short(name), lengths[i]!]));
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  /** Entries ever added to the tx stream (trims do not lower it). */
  async written(): Promise<number> {
    return Number((await this.#streamInfo(this.tx))?.get("entries-added") ?? 0);
  }

  async #lastGeneratedId(stream: string): Promise<string | null> {
    const id = (await this.#streamInfo(stream))?.get("last-generated-id");
    return id === undefined ? null : String(id);
  }

  async #streamInfo(stream: string): Promise<Map<string, unknown> | null> {
    const info = (await this.#client.xinfo("STREAM", stream).catch(noStream(null))) as unknown[] | null;
    if (!info) return null;
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
    return fields;
  }
}

/** A stream that does not exist yet reads as `empty`; any other error stays an error. */
function noStream<T>(empty: T): (error: Error) => T {
  return (error) => {
    if (error.message.includes("no such key")) return empty;
    throw error;
  };
}

function decodeEntry(id: string, fields: Buffer[]): unknown {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const decode = decoders[fields[i]!.toString()];
    if (decode) return decode(fields[i + 1]!);
  }
  throw new Error(`alerts entry ${id} has neither a "d" nor a "json" field`);
}
