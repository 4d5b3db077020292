/**
 * The dead-letter half of the streams adapter: one {@link DeadLetterStore} over every dead-letter
 * stream the watched pumps write (`DeadLetters` of src/streams does one stream). Ids are
 * `<dead-letter stream>:<record id>` so they stay unique when several streams have dead letters; a page
 * lists them oldest first across the streams and never scans more than `count` records of each.
 */
import { InvalidOptionError } from "../../errors.ts";
import type { StreamBackend } from "../../streams/backend.ts";
import { type DeadLetterFilter, DeadLetters, type StreamDeadLetter } from "../../streams/dead-letters.ts";
import { defaultCodec } from "../../streams/entry-codec.ts";
import { compareIdStrings } from "../../streams/stream-id.ts";
import type { DeadLetterStore, DeadLetterView, Page, PageRequest } from "./source.ts";

/** A place in the merged order: a record id in a dead-letter stream. */
interface Position {
  stream: string;
  id: string;
}

function comparePositions(a: Position, b: Position): number {
  return compareIdStrings(a.id, b.id) || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0);
}

/** Splits `tx:dlq:1719000000000-0` at its last colon; `null` when it has no record id part. */
export function parseDeadLetterId(id: string): { stream: string; record: string } | null {
  const match = /^(.+):(\d+-\d+)$/.exec(id);
  return match ? { stream: match[1] as string, record: match[2] as string } : null;
}

export class MultiStreamDeadLetters implements DeadLetterStore {
  readonly #stores: Map<string, DeadLetters>;
  readonly #previewChars: number;

  constructor(backend: StreamBackend, streams: Iterable<string>, previewChars: number) {
    const names = [...new Set(streams)].sort();
    this.#stores = new Map(names.map((stream) => [stream, new DeadLetters(backend, stream)]));
    this.#previewChars = previewChars;
  }

  get streams(): string[] {
    return [...this.#stores.keys()];
  }

  /**
   * One order across the streams: by record id (the time it was dead-lettered), then by stream name. Each
   * stream is scanned from the cursor for at most `count` records; a stream whose scan stopped short of its
   * end bounds the page, since its records past that point are not read yet, so the page ends there (it may
   * then hold fewer than `count`) and the cursor names that point.
   */
  async list(filter: DeadLetterFilter, page: PageRequest): Promise<Page<DeadLetterView>> {
    const at = page.cursor === undefined ? null : parseDeadLetterId(page.cursor);
    if (page.cursor !== undefined && (!at || !this.#stores.has(at.stream)))
      throw new InvalidOptionError("cursor", "names no dead-letter stream of this source");
    const scans = await Promise.all(
      this.streams.map(async (stream) => {
        const store = this.#stores.get(stream) as DeadLetters;
        // Records at the cursor's id in a stream named after the cursor's come after it: the range starts there, included.
        const from = at === null ? {} : stream > at.stream ? { from: at.record } : { after: at.record };
        return { stream, found: await store.list(filter, { count: page.count, ...from }) };
      }),
    );
    let bound: Position | null = null;
    for (const { stream, found } of scans)
      if (found.next !== null && (bound === null || comparePositions({ stream, id: found.next }, bound) < 0))
        bound = { stream, id: found.next };
    const merged = scans
      .flatMap(({ stream, found }) => found.letters.map((letter) => ({ stream, letter })))
      .filter(
        ({ stream, letter }) => bound === null || comparePositions({ stream, id: letter.id }, bound) <= 0,
      )
      .sort((a, b) =>
        comparePositions({ stream: a.stream, id: a.letter.id }, { stream: b.stream, id: b.letter.id }),
      );
    const taken = merged.slice(0, page.count);
    const last = taken.at(-1);
    const next: Position | null =
      merged.length > page.count && last ? { stream: last.stream, id: last.letter.id } : bound;
    return {
      entries: taken.map(({ stream, letter }) => this.#view(stream, letter)),
      next: next === null ? null : `${next.stream}:${next.id}`,
    };
  }

  async replay(id: string): Promise<"replayed" | "not-found" | "not-replayable"> {
    const found = await this.#find(id);
    if (!found) return "not-found";
    if (!found.letter.replayable) return "not-replayable";
    return (await found.store.replay(found.letter.id)) ? "replayed" : "not-found";
  }

  async replayAll(filter: DeadLetterFilter, options: { batchSize: number }): Promise<number> {
    let replayed = 0;
    for (const store of this.#stores.values()) replayed += await store.replayAll(filter, options);
    return replayed;
  }

  async remove(id: string): Promise<boolean> {
    const at = parseDeadLetterId(id);
    const store = at && this.#stores.get(at.stream);
    return store ? store.delete(at.record) : false;
  }

  async #find(id: string): Promise<{ store: DeadLetters; letter: StreamDeadLetter } | null> {
    const at = parseDeadLetterId(id);
    const store = at && this.#stores.get(at.stream);
    const letter = store ? await store.get(at.record) : null;
    return store && letter ? { store, letter } : null;
  }

  #view(stream: string, letter: StreamDeadLetter): DeadLetterView {
    const { id, fields, ...recorded } = letter;
    return {
      id: `${stream}:${id}`,
      ...recorded,
      preview: fields === null ? null : preview(fields, this.#previewChars),
    };
  }
}

/** The payload as JSON, cut to `chars`; undecodable payloads are described, never thrown. */
function preview(fields: NonNullable<StreamDeadLetter["fields"]>, chars: number): string {
  let text: string;
  try {
    const payload = defaultCodec.decode(fields);
    text =
      JSON.stringify(payload, (_, value) => (typeof value === "bigint" ? value.toString() : value)) ??
      String(payload);
  } catch {
    const bytes = Object.values(fields).reduce((sum, value) => sum + value.length, 0);
    text = `<undecodable: ${Object.keys(fields).join(", ")}; ${bytes} bytes>`;
  }
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}
