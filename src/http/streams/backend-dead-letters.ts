/**
 * The dead-letter half of the streams adapter: one {@link DeadLetterStore} over every dead-letter
 * stream the watched pumps write (`DeadLetters` of src/streams does one stream). Ids are
 * `<dead-letter stream>:<record id>` so they stay unique when several streams have dead letters; paging
 * walks the streams in name order and never scans more than `count` records of each per page.
 */
import { InvalidOptionError } from "../../errors.ts";
import type { StreamBackend } from "../../streams/backend.ts";
import { type DeadLetterFilter, DeadLetters, type StreamDeadLetter } from "../../streams/dead-letters.ts";
import { defaultCodec } from "../../streams/entry-codec.ts";
import type { DeadLetterStore, DeadLetterView, Page, PageRequest } from "./source.ts";

const START = "0-0";

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

  async list(filter: DeadLetterFilter, page: PageRequest): Promise<Page<DeadLetterView>> {
    const names = this.streams;
    let index = 0;
    let after: string | undefined;
    if (page.cursor !== undefined) {
      const at = parseDeadLetterId(page.cursor);
      index = at ? names.indexOf(at.stream) : -1;
      if (!at || index < 0)
        throw new InvalidOptionError("cursor", "names no dead-letter stream of this source");
      after = at.record === START ? undefined : at.record;
    }
    const entries: DeadLetterView[] = [];
    for (; index < names.length; index++, after = undefined) {
      const stream = names[index] as string;
      const store = this.#stores.get(stream) as DeadLetters;
      const remaining = page.count - entries.length;
      const found = await store.list(filter, { count: remaining, ...(after !== undefined && { after }) });
      entries.push(...found.letters.map((letter) => this.#view(stream, letter)));
      if (found.next !== null) return { entries, next: `${stream}:${found.next}` };
      if (entries.length >= page.count) {
        const following = names[index + 1];
        return { entries, next: following === undefined ? null : `${following}:${START}` };
      }
    }
    return { entries, next: null };
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
