/**
 * convlab-style entry point (bin/convlab-style.js imports this module): runs `main` from cli-main.ts with
 * @convlab/core's runCli (one error line, Ctrl-C and SIGTERM as an AbortSignal).
 */
import { runCli } from '@convlab/core';
import { main } from './cli-main.js';

await runCli(main);
