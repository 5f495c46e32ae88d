/** convlab-style, the command line over @convlab/style (the library: stylize, StylizeOptions, ...). */
export { CliOptions, main, parseCliArgs, program } from './cli-main.js';
// Transitional, for apps/studio until it imports these from @convlab/style (no app imports another app): delete then.
export { stylize, styleReportSections, writeLossPlot } from '@convlab/style';
