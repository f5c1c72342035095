import { createWriteStream, type WriteStream } from "node:fs";
import { AsyncQueue } from "../../runtime/internal/async-queue.ts";

export interface LogReadOptions {
  /** Last lines to send first; all kept lines by default. */
  readonly tail?: number;
  /** Keep streaming new lines until the signal aborts. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * The recent output of one service: the last `capacity` lines in memory for `logs --tail`,
 * every line appended to a file, and live followers.
 */
export class LogBuffer {
  readonly #lines: string[] = [];
  readonly #capacity: number;
  readonly #followers = new Set<AsyncQueue<string>>();
  readonly #file: WriteStream | undefined;
  #partial = "";

  constructor(options: { capacity?: number; file?: string } = {}) {
    this.#capacity = options.capacity ?? 5000;
    this.#file = options.file ? createWriteStream(options.file, { flags: "a" }) : undefined;
    this.#file?.on("error", () => {
      // A full or vanished log disk must not take the service down; the ring buffer still works.
    });
  }

  /** Appends raw output; splits it into lines, keeping an unfinished last line for later. */
  write(chunk: string): void {
    const text = this.#partial + chunk;
    const parts = text.split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) this.#push(line);
  }

  /** Writes out an unfinished last line (at process exit). */
  flush(): void {
    if (this.#partial !== "") {
      this.#push(this.#partial);
      this.#partial = "";
    }
  }

  #push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.splice(0, this.#lines.length - this.#capacity);
    this.#file?.write(`${line}\n`);
    for (const f of this.#followers) f.push(line);
  }

  lines(tail?: number): string[] {
    return tail === undefined ? [...this.#lines] : this.#lines.slice(Math.max(0, this.#lines.length - tail));
  }

  read(options: LogReadOptions = {}): AsyncIterable<string> {
    const queue = new AsyncQueue<string>({
      signal: options.signal,
      limit: 100_000,
      onClose: () => this.#followers.delete(queue),
    });
    for (const line of this.lines(options.tail)) queue.push(line);
    if (options.follow) this.#followers.add(queue);
    else queue.end();
    return queue;
  }

  close(): void {
    this.flush();
    for (const f of this.#followers) f.end();
    this.#followers.clear();
    this.#file?.end();
  }
}
