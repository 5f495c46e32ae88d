/** convlab-deconv entry point: the commands are generated from @convlab/visualize's option schemas (commands.ts). */
import { runCli } from '@convlab/core';
import { main } from './commands.js';

await runCli(main);
