/**
 * Imported before undici (undici-loaded.ts, the one module that loads it): undici compiles its
 * HTTP parser (llhttp, WebAssembly) as it loads, and V8 then optimises it
 * with TurboFan on a background thread, 0.1-0.15 CPU-seconds per process
 * that competed with the download and its hash on 2 cores (perf: wasm
 * TurboFan jobs). Bulk bytes do not go through llhttp (RangeSockets reads
 * range bodies itself), so its baseline (Liftoff) code is enough: a web
 * fetch's process takes ~0.1 CPU-seconds less. Only undici's parser is
 * WebAssembly in this program.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
