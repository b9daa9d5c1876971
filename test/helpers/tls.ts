import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './tmp.js';

export interface TestPki {
  caCert: Buffer;
  caPath: string;
  cert: Buffer;
  key: Buffer;
  certPath: string;
  keyPath: string;
}

/** True when the openssl CLI is available to make test certificates. */
export const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export async function makePki(t: TestContext): Promise<TestPki> {
  const dir = await tempDir(t, 'xfer-pki-');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=xfer test CA',
  );
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  return {
    caCert: await readFile(join(dir, 'ca.crt')),
    caPath: join(dir, 'ca.crt'),
    cert: await readFile(join(dir, 'server.crt')),
    key: await readFile(join(dir, 'server.key')),
    certPath: join(dir, 'server.crt'),
    keyPath: join(dir, 'server.key'),
  };
}
