export * from './constants.js';
export * from './messages.js';
export * from './names.js';
export * from './pieces.js';
export * from './auth.js';
export { encode, encodePreamble, checkRange, catalogEntryWireSize } from './encoder.js';
export { FrameDecoder, type DecoderHandlers, type DecoderOptions } from './decoder.js';
