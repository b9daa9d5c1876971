// llhttp-baseline must run before undici loads: see there.
import './llhttp-baseline.js';

export { Agent, EnvHttpProxyAgent, request, util } from 'undici';
