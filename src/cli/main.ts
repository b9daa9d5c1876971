#!/usr/bin/env node
import { UsageError, XferError } from '../errors.js';
import { Cli, EXIT_FAILED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE } from './cli.js';
import { CLIENT_HELP, GET_HELP, client, get } from './client.js';
import { DEMO_HELP, demo } from './demo.js';
import { LS_HELP, ls } from './ls.js';
import { SERVE_HELP, serve } from './serve.js';
import { closest } from './suggest.js';
import { packageVersion } from './version.js';
import { DEFAULT_PORT, MAX_CONNECTIONS_PER_FILE } from '../protocol/index.js';

const HELP = `xfer: move files over TCP, each over up to ${MAX_CONNECTIONS_PER_FILE} parallel connections, verified end to end.

Usage:
  xfer serve  [--root DIR] [--host H] [-p PORT]       serve DIR/resources/, keep DIR/text.txt
  xfer client [HOST[:PORT]] [--dir DIR] [--once]      fetch the names in DIR/input.txt into DIR/data/
  xfer ls     SERVER                                  list a server's files
  xfer get    SERVER NAME... [-o DIR]                 fetch named files
  xfer demo                                           a server and a client on loopback, a real transfer
  xfer help   [COMMAND]                               this help, or a command's options

Options:
  -h, --help        show this help (\`xfer COMMAND --help\` for a command's options)
  -V, --version     print the version

SERVER is HOST[:PORT] (default port ${DEFAULT_PORT}; IPv6 as [::1]:${DEFAULT_PORT}).

Exit codes: 0 all good, 1 something asked for failed, 2 usage error, 130 Ctrl+C,
141 the reader of stdout went away (| head), 143 SIGTERM.
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
  if (name === undefined || name === '-h' || name === '--help') {
    cli.out(HELP.trimEnd());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    cli.out(packageVersion());
    return EXIT_OK;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) cli.out(HELP.trimEnd());
    else if (Object.hasOwn(COMMANDS, topic)) cli.out(COMMANDS[topic]!.help.trimEnd());
    else return unknownCommand(cli, topic);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) return unknownCommand(cli, name);
  if (rest.includes('--help') || rest.includes('-h')) {
    cli.out(command.help.trimEnd());
    return EXIT_OK;
  }
  // Known before parsing, so even a usage error reaches a script reading NDJSON.
  cli.jsonOutput = rest.includes('--json');
  try {
    const code = await command.run(rest, cli);
    return cli.interrupted ? cli.interruptExitCode : code;
  } catch (err) {
    if (cli.interrupted || (err instanceof XferError && err.code === 'ERR_XFER_ABORTED')) {
      const by = cli.interruptExitCode === EXIT_TERMINATED ? 'SIGTERM' : 'Ctrl+C';
      const stopped = `Stopped by ${by}; any partial download is kept and resumes next time.`;
      cli.info(`xfer: ${stopped}`);
      if (cli.jsonOutput) cli.json({ type: 'error', code: 'ERR_XFER_ABORTED', message: stopped });
      return cli.interruptExitCode;
    }
    cli.error(err);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
}

function unknownCommand(cli: Cli, name: string): number {
  const guess = closest(name, Object.keys(COMMANDS));
  cli.error(
    new UsageError(
      `Unknown command "${name}".${guess ? ` Did you mean \`xfer ${guess}\`?` : ''} Run \`xfer --help\` for the commands.`,
    ),
  );
  return EXIT_USAGE;
}

const cli = new Cli(process.stdout, process.stderr, process.stdin);
cli.installSignalHandlers();
process.exitCode = await main(process.argv.slice(2), cli);
// The command is over: nothing it left behind (a timer, a watcher, a socket) may keep the process alive.
setTimeout(() => process.exit(), 1000).unref();
