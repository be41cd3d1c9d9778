/**
 * The merge's float32 working memory: one buffer allocated once and reused for every piece of work (a chunk of a
 * tensor, or a whole tensor), instead of a fresh allocation per input per tensor. Fresh allocations cost a page
 * fault and a zeroing per 4 KiB page, and free late (at the next garbage collection); a reused buffer costs
 * neither, and its size is the peak memory, fixed up front.
 *
 * Pieces are written, and so released, in the order they were taken: the buffer is used as a ring. A request
 * that fits neither after the newest allocation nor before the oldest waits until older pieces are released.
 */

/** Allocations start on 64-byte boundaries: cache lines, and aligned SIMD loads. */
export const ARENA_ALIGN = 64;

export const alignUp = (bytes: number) => Math.ceil(bytes / ARENA_ALIGN) * ARENA_ALIGN;

export class Arena {
  /** Live allocations, oldest first: [offset, end) pairs from `first` on. */
  private readonly offsets: number[] = [];
  private readonly ends: number[] = [];
  private first = 0;

  /** The ring is bytes [start, start + bytes) of `buffer`; offsets handed out are offsets into `buffer`. */
  constructor(
    readonly buffer: ArrayBuffer | SharedArrayBuffer,
    private readonly start: number,
    readonly bytes: number,
  ) {
    if (start % ARENA_ALIGN || start + bytes > buffer.byteLength) throw new Error(`arena: [${start}, ${start + bytes}) in ${buffer.byteLength} bytes`);
  }

  get live(): number {
    return this.offsets.length - this.first;
  }

  /** A byte offset for `bytes` bytes (rounded up to the alignment), or undefined while it does not fit. */
  alloc(bytes: number): number | undefined {
    const at = this.allocRelative(bytes);
    return at === undefined ? undefined : this.start + at;
  }

  /** Releases the oldest allocation, which must start at `offset`. */
  free(offset: number): void {
    this.freeRelative(offset - this.start);
  }

  private allocRelative(bytes: number): number | undefined {
    const size = alignUp(Math.max(bytes, 1));
    if (size > this.bytes) throw new Error(`arena: ${size} bytes requested from ${this.bytes}`);
    let at: number | undefined;
    if (this.live === 0) {
      this.offsets.length = this.ends.length = this.first = 0;
      at = 0;
    } else {
      const oldest = this.offsets[this.first]!;
      const head = this.ends[this.ends.length - 1]!;
      const wrapped = this.offsets[this.offsets.length - 1]! < oldest;
      if (wrapped) at = head + size <= oldest ? head : undefined;
      else if (head + size <= this.bytes) at = head;
      else if (size <= oldest) at = 0;
    }
    if (at === undefined) return undefined;
    this.offsets.push(at);
    this.ends.push(at + size);
    return at;
  }

  private freeRelative(offset: number): void {
    if (this.live === 0 || this.offsets[this.first] !== offset) throw new Error(`arena: ${offset} is not the oldest allocation`);
    this.first++;
    if (this.first > 1024) {
      this.offsets.splice(0, this.first);
      this.ends.splice(0, this.first);
      this.first = 0;
    }
  }
}
