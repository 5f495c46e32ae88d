/** convlab-deconv entry point: see cli-main.ts. */
import { runCli } from '@convlab/core';
import { main } from './cli-main.js';

await runCli(main);
