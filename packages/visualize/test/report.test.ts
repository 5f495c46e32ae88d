import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveImage } from '@convlab/core';
import { runReport } from '../src/runs.js';
import { tinyVgg } from './helpers/nets.js';

test('runReport writes one self-contained page with methods, occlusion, feature maps and the sanity check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deconv-report-'));
  const image = join(dir, 'in.png');
  await saveImage({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 41) % 256) }, image);
  const net = tinyVgg(32);
  const out = join(dir, 'out');
  const r = await runReport(net, {
    images: [image],
    out,
    layer: 'block2_conv1',
    unit: 3,
    methods: ['deconvnet', 'saliency', 'gradcam'],
    square: 8,
    stride: 8,
    sanitySteps: 2,
  });
  const html = await readFile(r.report!, 'utf8');
  for (const heading of ['Methods side by side', 'Occlusion sensitivity', 'Feature maps of block2_conv1', 'Sanity check']) t.true(html.includes(heading), heading);
  t.false(/<img[^>]+src="(?!data:)/.test(html), 'every image is inlined');
  const files = await readdir(out);
  for (const name of ['attr-block2_conv1-unit3.json', 'occlusion-block2_conv1-unit3.json', 'features-block2_conv1.json', 'sanity-block2_conv1-unit3.json']) t.true(files.includes(name), name);
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});
