#!/usr/bin/env node
import { UsageError, XferError } from '../errors.js';
import { Cli, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE } from './cli.js';
import { CLIENT_HELP, GET_HELP, client, get } from './client.js';
import { DEMO_HELP, demo } from './demo.js';
import { LS_HELP, ls } from './ls.js';
import { SERVE_HELP, serve } from './serve.js';
import { packageVersion } from './version.js';
import { DEFAULT_PORT, MAX_CONNECTIONS_PER_FILE } from '../protocol/index.js';

const HELP = `xfer: move files over TCP, each over up to ${MAX_CONNECTIONS_PER_FILE} parallel connections, verified end to end.

Usage:
  xfer serve  [--root DIR] [--host H] [--port N]     serve DIR/resources/, keep DIR/text.txt
  xfer client [HOST[:PORT]] [--dir DIR] [--once]      fetch the names in DIR/input.txt into DIR/data/
  xfer ls     SERVER                                  list a server's files
  xfer get    SERVER NAME... [--out DIR]              fetch named files
  xfer demo                                           a server and a client on loopback, a real transfer

Run \`xfer COMMAND --help\` for a command's options. SERVER is HOST[:PORT] (default port ${DEFAULT_PORT}).

Exit codes: 0 all good, 1 something asked for failed, 2 usage error, 130 interrupted (Ctrl+C),
143 terminated (SIGTERM).
`;

type Command = (argv: string[], cli: Cli) => Promise<number>;
const COMMANDS: Record<string, { run: Command; help: string }> = {
  serve: { run: serve, help: SERVE_HELP },
  client: { run: client, help: CLIENT_HELP },
  ls: { run: ls, help: LS_HELP },
  get: { run: get, help: GET_HELP },
  demo: { run: demo, help: DEMO_HELP },
};

export async function main(argv: string[], cli: Cli): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    cli.out(HELP.trimEnd());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    cli.out(packageVersion());
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    cli.info(`xfer: unknown command "${name}". Run \`xfer --help\` for the commands.`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    cli.out(command.help.trimEnd());
    return EXIT_OK;
  }
  try {
    return await command.run(rest, cli);
  } catch (err) {
    if (cli.interrupted || (err instanceof XferError && err.code === 'ERR_XFER_ABORTED')) {
      cli.info('xfer: stopped; partial downloads are kept and resume next time.');
      return cli.interrupt.signal.reason === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    }
    cli.error(err);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
}

const cli = new Cli(process.stdout, process.stderr, process.stdin);
cli.installSignalHandlers();
process.exitCode = await main(process.argv.slice(2), cli);
