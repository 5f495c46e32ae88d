/**
 * Prints the bad-input table as markdown: each row's command, the exit code it ended with and the
 * line it printed (error line, or the batch summary). Run:
 *   npx tsx --conditions=@convlab/source tests/bad-input/print-table.ts [deconv|style|caption]
 */
import { rows as captionRows } from './caption.rows.js';
import { rows as deconvRows } from './deconv.rows.js';
import { rows as styleRows } from './style.rows.js';
import { CLIS, runRow } from './harness.js';

const only = process.argv[2];
const rows = [...styleRows, ...deconvRows, ...captionRows].filter((r) => !only || r.cli === only);
process.stdout.write('| command | exit | expected | line printed |\n|---|---|---|---|\n');
for (const row of rows) {
  const r = await runRow(row);
  const lines = r.stderr.split('\n');
  const shown = lines.find((l) => l.startsWith('error:')) ?? lines.filter((l) => /skipped|failed and were skipped/.test(l)).join(' / ');
  const cmd = `${CLIS[row.cli].split('/').pop()!.replace('.js', '')} ${row.args.join(' ')}`;
  const clean = (s: string) => s.replaceAll(r.tmp, '{tmp}').replaceAll('|', '\\|');
  process.stdout.write(`| \`${clean(cmd)}\` | ${r.code}${r.timedOut ? ' (hung)' : ''} | ${row.exit} | ${clean(shown || '(nothing)')} |\n`);
}
