/**
 * Piece geometry, shared by both sides: a file is hashed in fixed-size pieces
 * so that a damaged or unverified stretch can be re-fetched alone.
 */

export const MIN_PIECE_SIZE = 1024 * 1024;
/** Keeps a file's piece list (32 bytes a piece) well inside one frame. */
export const TARGET_MAX_PIECES = 16384;

/** 1 MiB, doubled until the file has at most 16384 pieces (so 1 MiB up to 16 GiB). */
export function pieceSizeFor(fileSize: number): number {
  let size = MIN_PIECE_SIZE;
  while (Math.ceil(fileSize / size) > TARGET_MAX_PIECES) size *= 2;
  return size;
}

export function pieceCount(fileSize: number, pieceSize: number): number {
  return Math.ceil(fileSize / pieceSize);
}

/** Byte range [start, end) of piece `index`. */
export function pieceRange(
  index: number,
  fileSize: number,
  pieceSize: number,
): { start: number; end: number } {
  const start = index * pieceSize;
  return { start, end: Math.min(start + pieceSize, fileSize) };
}
