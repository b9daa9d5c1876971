import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSession } from '../client/session.js';
import { watchInputList } from '../client/watch.js';
import { humanRate, humanSize } from '../human.js';
import { XferServer } from '../server/server.js';
import { intOption, parseCommand, rateOption } from './args.js';
import { EXIT_FAILED, EXIT_OK, type Cli } from './cli.js';
import { Reporter } from './reporter.js';
import { MAX_CONNECTIONS_PER_FILE, SESSION_ID_SIZE } from '../protocol/index.js';

export const DEMO_HELP = `Usage: xfer demo [options]

Runs a server and a client on loopback in a temp folder and shows a real
transfer: the file list, live per-part progress, verification, a summary.

Options:
  --size MIB          size of the large demo file in MiB          (default: 64)
  --limit-rate RATE   cap each connection, e.g. 20M, or 0 for none
                      (default: 6M on a terminal, so the bars can be watched; none otherwise)
  --keep              keep the temp folder and print its path
  --json              print the client's NDJSON events on stdout
  -h, --help          show this help
`;

export async function demo(argv: string[], cli: Cli): Promise<number> {
  const { values } = parseCommand(
    argv,
    {
      size: { type: 'string' },
      'limit-rate': { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    'demo',
  );
  const sizeMiB = intOption(values.size, 'size', 1, 4096, 64);
  const root = await mkdtemp(join(tmpdir(), 'xfer-demo-'));
  const serverRoot = join(root, 'server');
  const clientDir = join(root, 'client');
  const files: Record<string, Buffer> = {
    [`big ${sizeMiB}MiB.bin`]: randomBytes(sizeMiB * 1024 * 1024),
    'hello.txt': Buffer.from('Hello from xfer!\n'),
    'photos/cat 01.jpg': randomBytes(1536 * 1024),
    'notes/日本語.md': Buffer.from('# xfer\nUnicode names work too.\n'),
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(serverRoot, 'resources', name, '..'), { recursive: true });
    await writeFile(join(serverRoot, 'resources', name), content);
  }
  await mkdir(clientDir);
  await writeFile(
    join(clientDir, 'input.txt'),
    `# names to fetch, one per line\n${Object.keys(files).join('\n')}\n`,
  );

  const reporter = Reporter.for(cli, values.json);
  const rate = rateOption(values['limit-rate'], 'limit-rate', reporter.mode === 'tty' ? 6 * 1024 * 1024 : 0);
  const server = await XferServer.start({
    root: serverRoot,
    host: '127.0.0.1',
    port: 0,
    limits: { bytesPerSecondPerConnection: rate },
  });
  const { port } = server.address;
  if (!values.json) {
    const pace =
      rate > 0 ? `, each connection capped at ${humanRate(rate)} so the progress can be watched` : '';
    cli.info(
      `demo: server on 127.0.0.1:${port} serving ${server.catalog.size} files from ${serverRoot}${pace}`,
    );
  }
  const session = new ClientSession({
    connect: { host: '127.0.0.1', port, sessionId: randomBytes(SESSION_ID_SIZE) },
    dataDir: join(clientDir, 'data'),
    connections: MAX_CONNECTIONS_PER_FILE,
    signal: cli.interrupt.signal,
    emit: reporter.handle,
  });
  const started = Date.now();
  try {
    const failed = await watchInputList(session, {
      dir: clientDir,
      intervalMs: 1000,
      once: true,
      signal: cli.interrupt.signal,
      emit: reporter.handle,
    });
    const seconds = (Date.now() - started) / 1000;
    let mismatched = 0;
    for (const [name, content] of Object.entries(files)) {
      const got = await readFile(join(clientDir, 'data', name)).catch(() => Buffer.alloc(0));
      if (!createHash('sha256').update(got).digest().equals(createHash('sha256').update(content).digest()))
        mismatched++;
    }
    const bytes = Object.values(files).reduce((n, b) => n + b.length, 0);
    if (!values.json) {
      cli.info(
        `demo: ${Object.keys(files).length} files, ${humanSize(bytes)} in ${seconds.toFixed(2)}s (${humanRate(bytes / seconds)}); ` +
          (mismatched === 0 ? 'every SHA-256 matches the source.' : `${mismatched} file(s) did not match!`),
      );
    }
    return failed === 0 && mismatched === 0 ? EXIT_OK : EXIT_FAILED;
  } finally {
    reporter.finish();
    session.close();
    await server.close();
    if (values.keep) cli.info(`demo: kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}
