/** A byte range [start, end) of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Splits the missing pieces of a file into at most `connections` ranges on piece
 * boundaries. Runs of missing pieces are kept whole where possible, and the
 * largest range is halved until every connection has one (or pieces run out),
 * so a fresh file becomes N equal parts and a resumed one its missing stretches.
 */
export function planRanges(
  fileSize: number,
  pieceSize: number,
  missing: (piece: number) => boolean,
  connections: number,
): ByteRange[] {
  const pieces = Math.ceil(fileSize / pieceSize);
  const runs: { first: number; last: number }[] = [];
  for (let p = 0; p < pieces; p++) {
    if (!missing(p)) continue;
    const last = runs.at(-1);
    if (last && last.last === p - 1) last.last = p;
    else runs.push({ first: p, last: p });
  }
  // More runs than connections is fine: an idle connection takes the next range from the queue.
  while (runs.length < connections) {
    let widest = -1;
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]!;
      if (r.last > r.first && (widest < 0 || r.last - r.first > runs[widest]!.last - runs[widest]!.first))
        widest = i;
    }
    if (widest < 0) break;
    const r = runs[widest]!;
    const mid = r.first + Math.floor((r.last - r.first + 1) / 2);
    runs.splice(widest, 1, { first: r.first, last: mid - 1 }, { first: mid, last: r.last });
  }
  return runs.map((r) => ({ start: r.first * pieceSize, end: Math.min((r.last + 1) * pieceSize, fileSize) }));
}

/** How many connections a file deserves: one per piece at most, never more than asked. */
export function connectionsFor(fileSize: number, pieceSize: number, maxConnections: number): number {
  return Math.max(1, Math.min(maxConnections, Math.ceil(fileSize / pieceSize)));
}
