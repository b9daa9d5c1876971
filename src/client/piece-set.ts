/** Which pieces of a file are on disk: one bit a piece (the resume state stores it as base64). */
export class PieceSet implements Iterable<number> {
  private readonly bits: Uint8Array;

  constructor(
    readonly count: number,
    from?: string,
  ) {
    this.bits = new Uint8Array(Math.ceil(count / 8));
    if (from) this.bits.set(Buffer.from(from, 'base64').subarray(0, this.bits.length));
  }

  has(i: number): boolean {
    return ((this.bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
  }

  add(i: number): void {
    this.bits[i >> 3] = (this.bits[i >> 3] ?? 0) | (1 << (i & 7));
  }

  delete(i: number): void {
    this.bits[i >> 3] = (this.bits[i >> 3] ?? 0) & ~(1 << (i & 7));
  }

  clear(): void {
    this.bits.fill(0);
  }

  get size(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.has(i)) n++;
    return n;
  }

  /** The pieces in the set, in ascending order. */
  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.count; i++) if (this.has(i)) yield i;
  }

  toBase64(): string {
    return Buffer.from(this.bits).toString('base64');
  }
}
