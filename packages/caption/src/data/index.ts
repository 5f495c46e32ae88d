export * from './types.js';
export { loadFlickr, parseTokenFile, parseSplitFile, type FlickrOptions } from './flickr8k.js';
export { loadKarpathyJson } from './karpathy-json.js';
export { loadCocoCaptions } from './coco.js';
