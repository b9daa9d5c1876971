import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import { Cli } from '../../src/cli/cli.js';
import { Reporter } from '../../src/cli/reporter.js';

/** A Cli whose stderr is a terminal of `columns`, recording what is written. */
function terminal(columns: number) {
  const stderr = Object.assign(new PassThrough(), { isTTY: true, columns }) as unknown as NodeJS.WriteStream;
  const stdout = new PassThrough() as unknown as NodeJS.WriteStream;
  const cli = new Cli(stdout, stderr, process.stdin);
  let written = '';
  let permanent = 0;
  stderr.on('data', (d: Buffer) => (written += d.toString()));
  const info = cli.info.bind(cli);
  cli.info = (line: string) => {
    permanent++;
    info(line);
  };
  return { cli, output: () => written, permanentLines: () => permanent };
}

const MiB = 1024 * 1024;
const parts = [0, 1, 2, 3].map((part) => ({ part, bytes: MiB, total: 4 * MiB, source: '127.0.0.1:9876' }));

describe('the terminal reporter', () => {
  test("a dying server's retries replace each other on the part's own line: no scrolling, no wrapping", () => {
    const term = terminal(50);
    const reporter = new Reporter(term.cli, 'tty', false);
    reporter.handle({
      type: 'start',
      file: 'big.bin',
      size: 16 * MiB,
      mode: 'ranges',
      parts: [],
      resumedBytes: 0,
    });
    reporter.handle({
      type: 'progress',
      file: 'big.bin',
      bytes: 4 * MiB,
      total: 16 * MiB,
      bytesPerSecond: MiB,
      parts,
      sources: [],
    });
    for (let attempt = 1; attempt <= 40; attempt++) {
      reporter.handle({
        type: 'retry',
        file: 'big.bin',
        part: attempt % 4,
        attempt,
        delayMs: 1500,
        code: 'ERR_XFER_CLOSED',
        message: 'The connection to 127.0.0.1:9876 closed before the exchange finished.',
      });
    }
    assert.equal(term.permanentLines(), 0, 'no retry is a line of its own');
    // The last frame drawn: the total and one line per part, each with that part's latest retry.
    const frames = term.output().split('\x1b[5F\x1b[J');
    const last = frames.at(-1)!.trimEnd().split('\n');
    assert.equal(last.length, 5, last.join('\n'));
    for (const line of last) assert.ok(stringWidth(line) < 50, `wider than the terminal: ${line}`);
    assert.match(last[1]!, /part 0 .*retry 40/);
    assert.match(last[4]!, /part 3 .*retry 39/);
    // A part that moves again drops its note.
    reporter.handle({
      type: 'progress',
      file: 'big.bin',
      bytes: 5 * MiB,
      total: 16 * MiB,
      bytesPerSecond: MiB,
      parts: parts.map((p) => (p.part === 0 ? { ...p, bytes: 2 * MiB } : p)),
      sources: [],
    });
    const after = term.output().split('\x1b[5F\x1b[J').at(-1)!.split('\n');
    assert.doesNotMatch(after[1]!, /retry/);
    assert.match(after[2]!, /retry 37/);
  });

  test('retries of a file without part lines share one status line, replaced each time', () => {
    const term = terminal(40);
    const reporter = new Reporter(term.cli, 'tty', false);
    for (let attempt = 1; attempt <= 10; attempt++) {
      reporter.handle({
        type: 'retry',
        file: 'small\x1b[2J.txt',
        part: 0,
        attempt,
        delayMs: 250,
        code: 'ERR_XFER_CLOSED',
        message: 'closed',
      });
    }
    assert.equal(term.permanentLines(), 0);
    const last = term.output().split('\x1b[1F\x1b[J').at(-1)!;
    assert.equal(last, 'small\\x1b[2J.txt: retry 10 in 0.3s: clo\n');
    reporter.handle({ type: 'error', file: 'small\x1b[2J.txt', code: 'ERR_XFER_CLOSED', message: 'gave up' });
    assert.match(term.output(), /xfer: small\\x1b\[2J\.txt: gave up \[ERR_XFER_CLOSED\]\n$/);
  });

  test('--quiet shows failures only; plain output keeps one line per retry', () => {
    const term = terminal(80);
    const quiet = new Reporter(term.cli, 'plain', false, 'quiet');
    quiet.handle({ type: 'catalog', files: [{ name: 'a', size: 1 }] });
    quiet.handle({
      type: 'done',
      file: 'a',
      size: 1,
      sha256: '00'.repeat(32),
      seconds: 1,
      bytesTransferred: 1,
      bytesPerSecond: 1,
    });
    assert.equal(term.output(), '');
    quiet.handle({ type: 'unknown', file: 'b', message: 'The server has no file named "b".' });
    assert.equal(term.output(), 'The server has no file named "b".\n');
  });

  test('a log (no terminal) keeps long names whole in done lines', () => {
    const term = terminal(40);
    const reporter = new Reporter(term.cli, 'plain', false);
    const file = `photos/${'long-folder-name/'.repeat(5)}IMG_0001.jpg`;
    reporter.handle({
      type: 'done',
      file,
      size: 1024,
      sha256: 'ab'.repeat(32),
      seconds: 1,
      bytesTransferred: 1024,
      bytesPerSecond: 1024,
    });
    assert.equal(term.output(), `✓ ${file}  1 KiB in 1.0s (1 KiB/s)  verified sha256 abababababab\n`);
  });

  test('--verbose on a terminal: each retry and each start is a line of its own, cut to the width', () => {
    const term = terminal(40);
    const reporter = new Reporter(term.cli, 'tty', false, 'verbose');
    reporter.handle({
      type: 'start',
      file: 'big.bin',
      size: 16 * MiB,
      mode: 'ranges',
      parts: [],
      resumedBytes: 0,
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      reporter.handle({
        type: 'retry',
        file: 'big.bin',
        part: 1,
        attempt,
        delayMs: 500,
        code: 'ERR_XFER_CLOSED',
        message: 'The connection to 127.0.0.1:9876 closed before the exchange finished.',
      });
    }
    assert.equal(term.permanentLines(), 4);
    const lines = term
      .output()
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines[0], 'big.bin: fetching 16 MiB over 0 connect');
    for (const line of lines) assert.ok(stringWidth(line) < 40, line);
    const retries = lines.filter((l) => l.includes('retry'));
    assert.equal(retries.length, 3);
    assert.match(retries.at(-1)!, /big\.bin: part 1 retry 3 in 0\.5s/);
  });
});
