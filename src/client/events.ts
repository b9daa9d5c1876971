/**
 * What the client library reports. The CLI renders these for people, or
 * prints them as NDJSON with --json (docs/json.md); nothing in src/client prints.
 */
export interface PartProgress {
  part: number;
  /** Bytes of this part written to disk. */
  bytes: number;
  /** Bytes assigned to this part (grows when it takes over work from a slower part). */
  total: number;
}

/** Where a download stands: what the engine reports, and the session turns into `progress` events. */
export interface DownloadProgress {
  /** Bytes of the file on disk, resumed ones included. */
  bytes: number;
  total: number;
  /** Bytes that were already on disk (verified) when this run's transfers began: not counted for speed. */
  resumedBytes: number;
  parts: PartProgress[];
}

export type ClientEvent =
  | { type: 'catalog'; files: { name: string; size: number }[] }
  | { type: 'unknown'; file: string; message: string }
  | { type: 'skip'; file: string; reason: string }
  | {
      type: 'start';
      file: string;
      size: number;
      /** `whole`: one request, verified in memory (small files); `ranges`: parts over up to 4 connections. */
      mode: 'whole' | 'ranges';
      parts: { part: number; offset: number; length: number }[];
      resumedBytes: number;
    }
  | {
      type: 'progress';
      file: string;
      bytes: number;
      total: number;
      bytesPerSecond: number;
      parts: PartProgress[];
    }
  | { type: 'resume'; file: string; verifiedBytes: number; message: string }
  | { type: 'restart'; file: string; message: string }
  | {
      type: 'retry';
      file: string;
      part: number;
      attempt: number;
      delayMs: number;
      code: string;
      message: string;
    }
  | { type: 'repair'; file: string; pieces: number; message: string }
  | {
      type: 'done';
      file: string;
      size: number;
      sha256: string;
      seconds: number;
      bytesTransferred: number;
      /** This run's bytes (the file less what was resumed) per second. */
      bytesPerSecond: number;
      /** What the bytes were checked against (web files): e.g. `sha256 (Repr-Digest)`, or `size only`. */
      verified?: string;
    }
  | { type: 'note'; file: string; message: string }
  | { type: 'error'; file?: string; code: string; message: string };

export type EmitEvent = (event: ClientEvent) => void;
