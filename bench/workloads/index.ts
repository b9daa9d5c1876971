import { big } from './big.js';
import { clients } from './clients.js';
import { http } from './http.js';
import { limited } from './limited.js';
import { small } from './small.js';
import type { Workload } from './workload.js';

/** Every workload, in the order they run and are reported. */
export const WORKLOADS: readonly Workload[] = [big, small, clients, limited, http];
