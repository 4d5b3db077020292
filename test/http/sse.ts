/** Reads a server-sent event stream from a fetch Response, one event at a time, for tests. */

export interface SseEvent {
  event: string;
  data: unknown;
}

export class SseReader {
  readonly #reader: { read(): Promise<{ done: boolean; value?: string }>; cancel(): Promise<void> };
  #buffer = "";
  readonly seen: SseEvent[] = [];

  constructor(response: Response) {
    if (!response.body) throw new Error("no body");
    this.#reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event of this type (others are recorded in `seen` and skipped); null once the stream ends. */
  async next(type: string): Promise<SseEvent | null> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === undefined || data === undefined) continue;
        const parsed = { event, data: JSON.parse(data) };
        this.seen.push(parsed);
        if (event === type) return parsed;
        continue;
      }
      const { done, value } = await this.#reader.read();
      if (done) return null;
      this.#buffer += value;
    }
  }

  /** Reads to the end; the events seen on the way are in `seen`. */
  async drain(): Promise<void> {
    while ((await this.next("\0")) !== null) {}
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}
