import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/index.js';
import { XferServer } from '../server/server.js';
import { intOption, parseCommand, rateOption } from './args.js';
import type { Cli } from './cli.js';
import { forTerminal } from './escape.js';
import { readToken, tokenOptions } from './token.js';

export const SERVE_HELP = `Usage: xfer serve [options]

Serves the files in ROOT/resources/ and keeps ROOT/text.txt current, to xfer
clients and, on the same port, to HTTP clients (curl, wget, aria2c, browsers).

Options:
  --root DIR          folder holding resources/ and text.txt      (default: .)
  --host H            address to listen on   (default: every IPv6 and IPv4 address;
                      every IPv4 address on a host without IPv6)
  -p, --port N        port; 0 picks a free one                    (default: ${DEFAULT_PORT})
  --token T           require clients to know this token          (default: none; or XFER_TOKEN)
  --token-file F      read the token from a file (keeps it out of ps)
  --tls-cert F        serve TLS with this certificate (PEM)
  --tls-key F         ... and this private key (PEM)
  --limit-rate RATE   cap each connection's sending rate, e.g. 10M (default: no cap)
  --limit-rate-total RATE  cap all connections' sending rate together, e.g. 50M
                      (one budget shared evenly; default: no cap)
  --no-http           speak only the xfer protocol (no HTTP on the port); with a
                      token HTTP needs TLS, so without --tls-cert it is off anyway
  --proxy-protocol    behind a load balancer that sends PROXY protocol v2
                      headers (HAProxy send-proxy-v2): limits and the log use the
                      client address it names; connections without one are closed
  --log FILE          also append the log to FILE (like the original server.log)
  -v, --verbose       log every connection, range and HTTP request (access log)
  -h, --help          show this help

Stops on Ctrl+C (exit 130) or SIGTERM (exit 143) after finishing the ranges in
flight. A port in use or one it may not take fails at once (exit 1).

Example:
  xfer serve --root ./share --port ${DEFAULT_PORT}
`;

export async function serve(argv: string[], cli: Cli): Promise<number> {
  const { values } = parseCommand(
    argv,
    {
      root: { type: 'string', default: '.' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      ...tokenOptions,
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      log: { type: 'string' },
      'limit-rate': { type: 'string' },
      'limit-rate-total': { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      'no-http': { type: 'boolean', default: false },
      'proxy-protocol': { type: 'boolean', default: false },
    },
    'serve',
  );
  const port = intOption(values.port, 'port', 0, 65535, DEFAULT_PORT);
  const bytesPerSecondPerConnection = rateOption(values['limit-rate'], 'limit-rate', 0);
  const bytesPerSecondTotal = rateOption(values['limit-rate-total'], 'limit-rate-total', 0);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new UsageError('--tls-cert and --tls-key go together.');
  }
  const token = await readToken(values);
  const tls =
    values['tls-cert'] && values['tls-key']
      ? { cert: await readFile(values['tls-cert']), key: await readFile(values['tls-key']) }
      : undefined;
  const server = await XferServer.start({
    root: resolve(values.root),
    ...(values.host !== undefined ? { host: values.host } : {}),
    port,
    ...(token !== undefined ? { token } : {}),
    ...(tls ? { tls } : {}),
    limits: { bytesPerSecondPerConnection, bytesPerSecondTotal },
    http: !values['no-http'],
    proxyProtocol: values['proxy-protocol'],
  });
  const logFile = values.log ? createWriteStream(values.log, { flags: 'a' }) : undefined;
  server.on('log', ({ level, message }) => {
    if (level === 'debug' && !values.verbose) return;
    // Log lines quote what clients sent (names, addresses): escaped, so no client can steer the terminal.
    const line = `${new Date().toISOString()} ${level} ${forTerminal(message)}`;
    cli.info(line);
    logFile?.write(`${line}\n`);
  });
  const { host, port: bound } = server.address;
  const shown = host.includes(':') ? `[${host}]` : host;
  cli.info(
    `xfer serving ${server.catalog.size} file${server.catalog.size === 1 ? '' : 's'} from ${resolve(values.root, 'resources')} on ${shown}:${bound}${token ? ' (token required)' : ''}${tls ? ' over TLS' : ''}${values['proxy-protocol'] ? ' behind a PROXY protocol balancer' : ''}`,
  );
  if (server.httpFace === 'off-token-without-tls') {
    cli.info(
      'HTTP is off: a bearer token must not cross the network in clear. Add --tls-cert and --tls-key to serve HTTPS, or --no-http to silence this.',
    );
  } else if (server.httpFace === 'on') {
    cli.info(`HTTP on the same port: ${tls ? 'https' : 'http'}://${shown}:${bound}/`);
  }
  server.on('catalog', (count) => cli.info(`catalog: ${count} file${count === 1 ? '' : 's'}`));
  await cli.untilInterrupted();
  cli.info('shutting down: finishing ranges in flight');
  await server.close();
  logFile?.end();
  return 0;
}
