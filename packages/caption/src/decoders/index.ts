import { ShowTellDecoder } from './show-tell.js';
import { ShowAttendTellDecoder } from './show-attend-tell.js';
import type { CaptionDecoder, DecoderConfig } from './types.js';

export * from './types.js';
export { ShowTellDecoder, ShowAttendTellDecoder };
export { setFeatureStats, gatherBlocks } from './common.js';

export function createDecoder(config: DecoderConfig, seed = 1): CaptionDecoder {
  return config.kind === 'show-attend-tell' ? new ShowAttendTellDecoder(config, seed) : new ShowTellDecoder(config, seed);
}
export { EnsembleDecoder } from './ensemble.js';
