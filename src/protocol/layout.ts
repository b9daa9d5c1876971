/**
 * Field layouts: each field type knows, in one place, how it is written, how
 * it is read back, how many bytes a value takes and the fewest it can take.
 * A frame's layout is composed from them once (frames.ts), so its encoder,
 * decoder, wire size and minimum size cannot disagree.
 */
import { InvalidNameError, MalformedFrameError, NumberOutOfRangeError } from '../errors.js';
import { MAX_NAME_BYTES } from './constants.js';
import type { FrameWriter, PayloadReader } from './fields.js';
import { validateName } from './names.js';

export interface Field<T> {
  /** The fewest bytes a value can take: what a peer's item count is checked against. */
  readonly minBytes: number;
  /** The bytes `value` takes on the wire. */
  bytes(value: T): number;
  /** Writes `value`, refusing what the reader would refuse. */
  write(w: FrameWriter, value: T): void;
  /** Reads a value, checking it before anything is built from it. */
  read(r: PayloadReader): T;
}

const fixedSize = <T>(n: number, write: Field<T>['write'], read: Field<T>['read']): Field<T> => ({
  minBytes: n,
  bytes: () => n,
  write,
  read,
});

export const u32: Field<number> = fixedSize(
  4,
  (w, v) => w.u32(v),
  (r) => r.u32(),
);

/** A 64-bit unsigned field that must hold a safe integer (0 to 2^53-1). */
export const u64 = (field: string): Field<number> =>
  fixedSize(
    8,
    (w, v) => w.u64(v, field),
    (r) => r.u64(field),
  );

/** Exactly `n` bytes (nonces, proofs, hashes). */
export const fixed = (n: number, field: string): Field<Buffer> =>
  fixedSize(
    n,
    (w, v) => w.bytes(v, n, field),
    (r) => r.bytes(n),
  );

/** One byte, 0 or 1. */
export const flag = (field: string): Field<boolean> =>
  fixedSize(
    1,
    (w, v) => w.u8(v ? 1 : 0),
    (r) => {
      const v = r.u8();
      if (v > 1) throw new MalformedFrameError(`The ${field} must be 0 or 1, not ${v}.`);
      return v === 1;
    },
  );

/**
 * A u8 or u16 byte length, then strict UTF-8 of at most `max` bytes. With
 * `truncate`, a longer value is cut (at a character boundary) instead of refused.
 */
export function text(lengthBytes: 1 | 2, max: number, field: string, truncate = false): Field<string> {
  const fit = (s: string) => (truncate ? truncateUtf8(s, max) : s);
  return {
    minBytes: lengthBytes,
    bytes: (s) => lengthBytes + Buffer.byteLength(fit(s), 'utf8'),
    write: (w, s) => w.string(lengthBytes, fit(s), max, field),
    read: (r) => r.string(lengthBytes, max, field),
  };
}

/** A file name: a u16 length, then a name that passes validateName on both sides. */
export const fileName: Field<string> = {
  // A valid name has at least one byte.
  minBytes: 2 + 1,
  bytes: (name) => 2 + Buffer.byteLength(name, 'utf8'),
  write: (w, name) => w.string(2, validateName(name), MAX_NAME_BYTES, 'name'),
  // Too long or not UTF-8 is a refused name (as on the sending side), not a broken frame.
  read: (r) => validateName(r.string(2, MAX_NAME_BYTES, 'name', InvalidNameError)),
};

type Layout<T> = { readonly [K in keyof T]-?: Field<T[K]> };

export interface StructField<T> extends Field<T> {
  /** Reads the fields into `target`, which may hold properties of its own (a message's type). */
  readInto<O extends object>(r: PayloadReader, target: O): O & T;
}

/**
 * Fields one after another in the order of `layout`'s keys. `check` sees the
 * whole value before it is written and after it is read, for rules across
 * fields (a range that must not overflow, hashes that must cover the file).
 */
export function struct<T extends object>(layout: Layout<T>, check?: (value: T) => void): StructField<T> {
  // Indexed loops over two arrays: this runs for every frame, small-file GETs included.
  const keys = Object.keys(layout) as (keyof T & string)[];
  const fields = keys.map((key) => layout[key] as Field<unknown>);
  const readInto = <O extends object>(r: PayloadReader, target: O): O & T => {
    const value = target as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) value[keys[i]!] = fields[i]!.read(r);
    check?.(value as T);
    return value as O & T;
  };
  return {
    minBytes: fields.reduce((sum, f) => sum + f.minBytes, 0),
    bytes: (value) => {
      let sum = 0;
      for (let i = 0; i < keys.length; i++) sum += fields[i]!.bytes(value[keys[i]!]);
      return sum;
    },
    write: (w, value) => {
      check?.(value);
      for (let i = 0; i < keys.length; i++) fields[i]!.write(w, value[keys[i]!]);
    },
    read: (r) => readInto(r, {}),
    readInto,
  };
}

/**
 * A flags byte (bit 0: `key` is present), then `head`, then `key` when the
 * flag says so. Other flag bits are refused: they would mean fields we cannot read.
 */
export function withOptionalTail<H extends object, K extends string, V>(
  head: Field<H>,
  key: K,
  tail: Field<V>,
): Field<H & { [P in K]?: V }> {
  type T = H & { [P in K]?: V };
  const present = (value: T): V | undefined => (value as { [P in K]?: V })[key];
  return {
    minBytes: 1 + head.minBytes,
    bytes: (value) => {
      const extra = present(value);
      return 1 + head.bytes(value) + (extra === undefined ? 0 : tail.bytes(extra));
    },
    write: (w, value) => {
      const extra = present(value);
      w.u8(extra === undefined ? 0 : 1);
      head.write(w, value);
      if (extra !== undefined) tail.write(w, extra);
    },
    read: (r) => {
      const flags = r.u8();
      if (flags > 1) throw new MalformedFrameError(`Unknown flags ${flags} before a ${key}.`);
      const value = head.read(r);
      if (flags === 1) Object.assign(value, { [key]: tail.read(r) });
      return value;
    },
  };
}

/**
 * A u32 count, then that many items. The count is checked against `max` and
 * against the bytes left in the payload before a single item is read, so a
 * lying count costs nothing.
 */
export function list<T>(item: Field<T>, what: string, max = Number.MAX_SAFE_INTEGER): Field<T[]> {
  const checkCount = (count: number) => {
    if (count > max) throw new NumberOutOfRangeError(`${count} ${what} exceed the limit of ${max}.`);
  };
  return {
    minBytes: 4,
    bytes: (items) => items.reduce((sum, x) => sum + item.bytes(x), 4),
    write: (w, items) => {
      checkCount(items.length);
      w.u32(items.length);
      for (const x of items) item.write(w, x);
    },
    read: (r) => {
      const count = r.u32();
      checkCount(count);
      if (count * item.minBytes > r.remaining) {
        throw new MalformedFrameError(`A frame claims ${count} ${what} it cannot hold.`);
      }
      const items: T[] = [];
      for (let i = 0; i < count; i++) items.push(item.read(r));
      return items;
    },
  };
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s, 'utf8') <= max) return s;
  let out = s.slice(0, max);
  while (Buffer.byteLength(out, 'utf8') > max) out = out.slice(0, -1);
  return out;
}
