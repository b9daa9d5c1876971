import type { BenchContext, Sizes } from '../context.js';

/** Median wall time of one tool in one workload; NaN when that row was not run. */
export type MedianOf = (workload: string, tool: string) => number;

/** A file a workload serves: its path under resources/ and its size. */
export interface DataFile {
  name: string;
  size: number;
}

/**
 * One workload of `npm run bench`. To add one: a module in this folder and
 * one line in ./index.ts; it is then selectable with `--only NAME`.
 */
export interface Workload {
  /** Its name in `--only`. */
  readonly name: string;
  /** The files it serves, written (random bytes) before the servers start. */
  files(sizes: Sizes): DataFile[];
  /** Whether the warm-up fetches its files once with xfer, so the server has hashed them. */
  readonly prefetch: boolean;
  /** Times its tools with `ctx.compare`, one row per tool. */
  run(ctx: BenchContext): Promise<void>;
  /** Its lines of the summary table; NaN (shown as n/a) where a row was not run. */
  summary(sizes: Sizes, medianOf: MedianOf): [label: string, value: number][];
}
