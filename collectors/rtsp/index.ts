export { checkRtspUrl, FFMPEG_MISSING, findFfmpeg, redactUrl } from './ffmpeg.js';
export {
  type FfmpegStats,
  ffmpegStats,
  resetFfmpegStats,
  setFfmpegConcurrency,
  withFfmpegSlot,
} from './limiter.js';
export {
  classifyFfmpegError,
  type ProbeErrorKind,
  type ProbeOptions,
  preferSubStream,
  probeArgs,
  probeStream,
  type StreamProbe,
} from './probe.js';
export {
  grabThumbnail,
  JPEG_QUALITIES,
  jpegSize,
  ThumbnailError,
  type ThumbnailOptions,
  thumbnailArgs,
} from './thumbnail.js';
