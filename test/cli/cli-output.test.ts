import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { Cli } from '../../src/cli/cli.js';

/** A Cli whose stderr records each write it gets. */
function cliWith(isTTY: boolean) {
  const stderr = Object.assign(new PassThrough(), { isTTY }) as unknown as NodeJS.WriteStream;
  const writes: string[] = [];
  stderr.on('data', (d: Buffer) => writes.push(d.toString()));
  const cli = new Cli(new PassThrough() as unknown as NodeJS.WriteStream, stderr, process.stdin);
  return { cli, writes };
}

describe('human lines on stderr', () => {
  test('into a pipe, the lines of one turn go out together, in order, at the end of that turn', async () => {
    const { cli, writes } = cliWith(false);
    for (let i = 0; i < 1000; i++) cli.info(`line ${i}`);
    await new Promise((r) => process.nextTick(r));
    assert.equal(writes.length, 0, 'nothing before the turn ends');
    await nextTurn();
    assert.equal(writes.length, 1);
    assert.equal(writes[0], Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
  });

  test('flush writes what is held at once; a terminal gets every line at once', async () => {
    const piped = cliWith(false);
    piped.cli.info('before a prompt');
    piped.cli.flush();
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(piped.writes, ['before a prompt\n']);
    const terminal = cliWith(true);
    terminal.cli.info('one');
    terminal.cli.info('two');
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(terminal.writes, ['one\n', 'two\n']);
  });

  test('lines past 64 KiB are written without waiting for the turn to end', async () => {
    const { cli, writes } = cliWith(false);
    const line = 'x'.repeat(1023);
    for (let i = 0; i < 64; i++) cli.info(line);
    await new Promise((r) => process.nextTick(r));
    assert.equal(writes.length, 1);
    assert.equal(writes[0]?.length, 64 * 1024);
  });
});
