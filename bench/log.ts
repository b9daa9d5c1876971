/** Progress of a bench run, on stderr (stdout carries the report). */
export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}
