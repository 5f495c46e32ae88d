/** Output files of a command-line run: every output is checked before any work and is never an input. */
import test from 'ava';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareOutputs } from '../src/outputs.js';

const CONTENT = fileURLToPath(new URL('../../../assets/content/tubingen.jpg', import.meta.url));
const STYLE = fileURLToPath(new URL('../../../assets/style/starry_night.jpg', import.meta.url));

test('outputs: never an input (also through a link), not on /proc, not under a file, not each other; nothing left when refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'style-out-'));
  const photo = join(dir, 'photo.jpg');
  await copyFile(CONTENT, photo);
  const before = await readFile(photo);
  const inputs = [photo, STYLE];
  const none = { every: 0, total: 10 };
  await t.throwsAsync(prepareOutputs(photo, undefined, inputs, none), { message: /^--output .*photo\.jpg is the input .*photo\.jpg: convlab never writes over an input/ });
  const link = join(dir, 'link.jpg');
  await symlink(photo, link);
  await t.throwsAsync(prepareOutputs(link, undefined, inputs, none), { message: /--output .*link\.jpg is (the input|a link to the input) .*photo\.jpg/ });
  await t.throwsAsync(prepareOutputs('/proc/convlab/x.png', undefined, inputs, none), { message: /--output \/proc\/convlab\/x\.png is on the proc pseudo file system/ });
  await t.throwsAsync(prepareOutputs(join(photo, 'sub', 'x.png'), undefined, inputs, none), { message: /--output .*: .*photo\.jpg is a file/ });
  await t.throwsAsync(prepareOutputs(join(dir, 'new', 'r.png'), join(dir, 'new', 'r.json'), inputs, none), { message: /--html .*r\.json is also an output of --output/ });
  t.false(existsSync(join(dir, 'new')), 'the folder made for a refused run is removed again');
  // A checkpoint (PATH-iterNNNN.ext) that is an input.
  const input2 = join(dir, 'r-iter0004.png');
  await copyFile(join(fileURLToPath(new URL('../../../assets/content', import.meta.url)), 'dog.jpg'), input2);
  await t.throwsAsync(prepareOutputs(join(dir, 'r.png'), undefined, [...inputs, input2], { every: 2, total: 10 }), { message: /--save-every 2 would write checkpoint .*r-iter0004\.png over an input image/ });
  await t.notThrowsAsync(prepareOutputs(join(dir, 'r.png'), undefined, [...inputs, input2], { every: 3, total: 10 }));
  t.deepEqual(await readFile(photo), before);
  t.deepEqual((await readdir(dir)).filter((f) => f.includes('probe') || f.endsWith('.tmp')), []);
  await rm(dir, { recursive: true, force: true });
});
