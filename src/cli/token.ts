import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

export const tokenOptions = {
  token: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

/** --token, else --token-file (first line), else XFER_TOKEN; undefined when none is set. */
export async function readToken(values: {
  token?: string | undefined;
  'token-file'?: string | undefined;
}): Promise<string | undefined> {
  if (values.token !== undefined && values['token-file'] !== undefined) {
    throw new UsageError('Give --token or --token-file, not both.');
  }
  let token = values.token;
  if (values['token-file'] !== undefined) {
    try {
      token = (await readFile(values['token-file'], 'utf8')).split(/\r?\n/)[0];
    } catch (err) {
      throw new UsageError(`Cannot read the token file: ${(err as Error).message}`);
    }
  }
  token ??= process.env['XFER_TOKEN'];
  if (token === undefined || token === '') return token === '' ? failEmpty() : undefined;
  return token;
}

function failEmpty(): never {
  throw new UsageError('The token is empty.');
}
