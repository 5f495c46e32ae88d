import type { BadInputRow } from './harness.js';

/** convlab-style's rows of the bad-input table (see harness.ts for the placeholders). */
export const rows: BadInputRow[] = [];
