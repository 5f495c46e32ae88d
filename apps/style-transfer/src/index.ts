/** convlab-style, the command line over @convlab/style (the library: stylize, StylizeOptions, ...). */
export { CliOptions, main, parseCliArgs, program } from './cli-main.js';
