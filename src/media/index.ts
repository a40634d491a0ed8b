/** The media layer: finding ffmpeg/ffprobe, probing inputs, decoding frames. No Node-RED here. */
export * from './types';
export * from './errors';
export * from './binaries';
export * from './source';
export * from './process';
export * from './probe';
export * from './frame-decoder';
export * from './audio';
