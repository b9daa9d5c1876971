export * from './constants.js';
export * from './messages.js';
export * from './names.js';
export * from './pieces.js';
export * from './auth.js';
export {
  CLIENT_FRAMES,
  SERVER_FRAMES,
  catalogEntryWireSize,
  checkRange,
  encode,
  encodePreamble,
} from './frames.js';
export { FrameDecoder, type DecoderHandlers, type DecoderOptions } from './decoder.js';
export {
  decodeProxyHeader,
  PROXY_V2_SIGNATURE,
  MAX_PROXY_BLOCK_BYTES,
  type ProxyHeader,
} from './proxy-header.js';
