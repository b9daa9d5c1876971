import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { closest } from './suggest.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Strict parsing: an unknown flag or a missing value is a usage error (exit 2), never ignored. */
export function parseCommand<O extends OptionSpec>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(e.message)?.[1] : undefined;
    if (unknown !== undefined) {
      const flags = [
        '--help',
        ...Object.entries(options).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]),
      ];
      const guess = closest(unknown.split('=')[0] ?? unknown, flags);
      throw new UsageError(
        `Unknown option ${unknown}.${guess ? ` Did you mean ${guess}?` : ''} (see \`xfer ${command} --help\`)`,
      );
    }
    throw new UsageError(`${e.message.split('\n')[0]} (see \`xfer ${command} --help\`)`);
  }
}

/** A whole number from `min` to `max`; `fallback` when the flag is absent. */
export function intOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  return numberOption(value, name, min, max, fallback, true);
}

/** A number from `min` to `max` (whole when `integer`); `fallback` when the flag is absent. */
export function numberOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
  integer = false,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const shaped = integer ? /^\d+$/.test(value) : value.trim() !== '' && Number.isFinite(n);
  if (!shaped || n < min || n > max) {
    throw new UsageError(
      `--${name} takes a ${integer ? 'whole number' : 'number'} from ${min} to ${max}, not "${value}".`,
    );
  }
  return n;
}

const RATE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A rate such as `500K`, `6M` or `1.5G` (bytes per second, powers of 1024); 0 means no cap. */
export function rateOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * (RATE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} takes a rate like 500K, 6M or 1G (bytes per second), not "${value}".`);
  }
  return Math.floor(n);
}
