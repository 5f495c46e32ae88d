/**
 * The bad-input table (tests/bad-input/*.rows.ts), row by row: each CLI refuses bad flags and paths
 * with one clear line naming the flag, before any heavy work, with the expected exit code, leaving no
 * output behind and every input unchanged; batches skip a bad item and finish the rest.
 */
import test from 'ava';
import { runRow, type BadInputRow } from './harness.js';
import { rows as captionRows } from './caption.rows.js';
import { rows as deconvRows } from './deconv.rows.js';
import { rows as styleRows } from './style.rows.js';

const rows: BadInputRow[] = [...styleRows, ...deconvRows, ...captionRows];

for (const row of rows) {
  test.serial(`${row.cli} ${row.what}`, async (t) => {
    const r = await runRow(row);
    const shown = `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stderr\n${r.stderr.slice(-2000)}`;
    t.false(r.timedOut, `hung: killed after ${row.timeout ?? 120} s\n${shown}`);
    t.is(r.code, row.exit, shown);
    for (const w of row.words) t.regex(r.stderr, typeof w === 'string' ? new RegExp(w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : w, shown);
    if (row.exit === 1) {
      t.notRegex(r.stderr, /^\s+at /m, `a stack trace was printed\n${shown}`);
      const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      t.is(errorLines.length, 1, `expected exactly one error line\n${shown}`);
    }
    if ((row.leaves ?? 'nothing') === 'nothing') t.deepEqual(r.files, [], `files left behind under ${r.out}`);
    else t.true(r.files.length > 0, `the batch wrote nothing\n${shown}`);
    t.deepEqual(r.changedInputs, [], 'an input was changed');
    t.deepEqual(r.leftovers, [], 'temporary files left behind');
  });
}
