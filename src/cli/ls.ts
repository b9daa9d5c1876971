import { ClientConnection } from '../client/connection.js';
import { UsageError } from '../errors.js';
import { parseCommand } from './args.js';
import type { Cli } from './cli.js';
import { REMOTE_HELP, connectOptions, remoteOptions, withFlagHint } from './remote.js';
import { renderCatalog } from './render.js';
import { DEFAULT_PORT } from '../protocol/index.js';

export const LS_HELP = `Usage: xfer ls SERVER [options]

Prints the files a server offers, as a table on stdout (names shortened only
to fit a terminal). SERVER is HOST[:PORT] (port ${DEFAULT_PORT} by default; IPv6 as [::1]:PORT).

Options:
${REMOTE_HELP}
  -h, --help          show this help

Example:
  xfer ls 127.0.0.1:${DEFAULT_PORT}
`;

export async function ls(argv: string[], cli: Cli): Promise<number> {
  const { values, positionals } = parseCommand(argv, remoteOptions, 'ls');
  if (positionals.length !== 1)
    throw new UsageError('xfer ls takes exactly one SERVER (see `xfer ls --help`).');
  const options = { ...(await connectOptions(positionals[0] ?? '', values)), signal: cli.interrupt.signal };
  const conn = await ClientConnection.open(options).catch((err: unknown) => {
    throw withFlagHint(err, options);
  });
  try {
    const entries = await conn.list();
    if (values.json) {
      cli.json({ type: 'catalog', files: entries.map((e) => ({ name: e.name, size: e.size })) });
    } else {
      // A terminal gets a table that fits it; a pipe gets every name whole.
      const width = cli.stdout.isTTY ? (cli.stdout.columns || 80) - 1 : undefined;
      for (const line of renderCatalog(entries, width)) cli.out(line);
    }
    return 0;
  } finally {
    conn.close();
  }
}
