/** Accumulates a child process's output stream and waits for patterns in it, without cancelling the stream. */
export class ChildOutput {
  text = "";
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader() as unknown as ReadableStreamDefaultReader<Uint8Array>;
  }

  /** Resolves once `pattern` has appeared; rejects if the stream ends first. */
  waitFor(pattern: RegExp): Promise<string> {
    return this.waitUntil((text) => pattern.test(text), String(pattern));
  }

  /** Resolves once the output so far satisfies `holds`; rejects (naming `what`) if the stream ends first. */
  async waitUntil(holds: (text: string) => boolean, what = "the awaited output"): Promise<string> {
    while (!holds(this.text)) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`output ended before ${what}:\n${this.text}`);
      this.text += this.#decoder.decode(value, { stream: true });
    }
    return this.text;
  }

  /** Reads to the end. */
  async rest(): Promise<string> {
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return this.text;
      this.text += this.#decoder.decode(value, { stream: true });
    }
  }
}
