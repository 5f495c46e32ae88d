import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConvlabError } from '@convlab/core';
import { main } from '../src/cli.js';
import { buildVgg } from '../src/vgg-arch.js';
import { writeKerasWeightsH5 } from '../src/keras-h5.js';

let home = '';
test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'convlab-cli-'));
  process.env.CONVLAB_HOME = home;
});
test.after.always(async () => {
  await rm(home, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  await main(argv, new AbortController().signal, (l) => lines.push(l));
  return lines;
}

test.serial('list shows every registry entry and where its weights are', async (t) => {
  const lines = await run('list');
  t.regex(lines[0], /^name\s+family\s+input\s+prep\s+weights\s+imagenet \(Keras applications\)$/);
  for (const name of ['mobilenet_v2', 'inception_v3', 'vgg16', 'vgg19', 'resnet50', 'resnet101', 'resnet152', 'inception_resnet_v2', 'custom']) t.true(lines.some((l) => l.startsWith(name)), name);
  t.regex(lines.find((l) => l.startsWith('resnet50'))!, /caffe .*missing: .*resnet50_weights_tf_dim_ordering_tf_kernels\.h5 \(convlab-models pull resnet50\)\s+top missing, notop missing \(caffe\)/);
  t.regex(lines.find((l) => l.startsWith('inception_v3'))!, /x\/255\s+nsfwjs: .*top missing, notop missing \(tf\)/);
  // Offline: each missing file with where it goes.
  t.true(lines.includes(`  inception_resnet_v2 --notop: place inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5 in ${join(home, 'models', 'inception_resnet_v2')}`));
  const vgg19 = lines.find((l) => l.startsWith('vgg19'))!;
  t.true(vgg19.includes(`missing: ${join(home, 'models', 'vgg19', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5')}`));
  t.true(vgg19.includes('convlab-models pull vgg19'));
  t.regex(lines.find((l) => l.startsWith('mobilenet_v2'))!, /nsfwjs: /);
});

test.serial('info prints layers, output shapes for a size, and aliases', async (t) => {
  const lines = await run('info', 'vgg19', '--size', '64x96');
  t.regex(lines[1], /random weights/);
  const conv = lines.find((l) => l.startsWith('block4_conv2'))!;
  t.regex(conv, /Conv2D\s+\[8, 12, 512\]\s+k3x3 s1x1 same\s+relu\s+conv4_2, relu4_2/);
  t.regex(lines.find((l) => l.startsWith('block5_pool'))!, /\[2, 3, 512\].*pool5/);
  t.is(lines[lines.length - 2], "roles (layer '@<role>'): early block3_conv4 (/4, rf 48 px, 256 ch); mid block4_conv4 (/8, rf 116 px, 512 ch); late block5_conv4 (/16, rf 252 px, 512 ch); last-conv block5_conv4 (/16, rf 252 px, 512 ch)");
  t.is(lines[lines.length - 1], '22 layers, 20,024,384 parameters');
});

test.serial('info custom loads the given file; verify and list see cached weights', async (t) => {
  const model = buildVgg(16, { upTo: 'block1_pool', init: 'zeros' });
  const path = join(home, 'small.h5');
  await writeKerasWeightsH5(model, path, { includeModel: true });
  model.dispose();
  const lines = await run('info', 'custom', '--weights', path, '--preprocessing', 'caffe');
  t.true(lines.some((l) => /^block1_pool\s+MaxPooling2D\s+\[112, 112, 64\]/.test(l)));

  // A file placed by hand in the cache: present in list; verify re-hashes it against the published md5.
  const cached = join(home, 'models', 'vgg16', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
  await mkdir(join(home, 'models', 'vgg16'), { recursive: true });
  await writeFile(cached, 'not the real weights');
  t.regex((await run('list')).find((l) => l.startsWith('vgg16'))!, /present: /);
  const err = await t.throwsAsync(run('verify', 'vgg16'), { instanceOf: ConvlabError });
  t.regex(err!.message, /failed verification: md5 .* differs from the published 6d6bbae143d832006294945121d1f1fc/);
});

test.serial('pull downloads through the mirror setting and rejects a file with the wrong md5', async (t) => {
  const server = createServer((_req, res) => res.end('not vgg16'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  process.env.CONVLAB_WEIGHTS_MIRROR = `http://127.0.0.1:${port}/`;
  try {
    const err = await t.throwsAsync(run('pull', 'vgg16', '--force'), { instanceOf: ConvlabError });
    t.regex(err!.message, /checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/vgg16\/vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5/);
    t.false(existsSync(join(home, 'models', 'vgg16', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5.part')));
  } finally {
    delete process.env.CONVLAB_WEIGHTS_MIRROR;
    await new Promise((resolve) => server.close(resolve));
  }
});

test('usage errors are one-line ConvlabErrors', async (t) => {
  await t.throwsAsync(run('frobnicate'), { instanceOf: ConvlabError, message: /unknown command 'frobnicate'/ });
  await t.throwsAsync(run('info'), { instanceOf: ConvlabError, message: /info needs a model name/ });
  await t.throwsAsync(run('info', 'vgg99'), { instanceOf: ConvlabError, message: /unknown model "vgg99"/ });
  await t.throwsAsync(run('pull', 'custom'), { instanceOf: ConvlabError, message: /no downloadable weights/ });
  await t.throwsAsync(run('pull', 'resnet50', '--top', '--notop'), { instanceOf: ConvlabError, message: /--top and --notop exclude each other/ });
  await t.throwsAsync(run('info', 'vgg16', '--size', 'big'), { instanceOf: ConvlabError, message: /bad --size 'big'/ });
  await t.throwsAsync(run('list', '--colour'), { instanceOf: ConvlabError, message: /--colour/ });
  t.regex((await run('--help'))[0], /^usage: convlab-models/);
});

test.serial('the bin shim runs and reports errors in one line with exit code 1', async (t) => {
  const bin = fileURLToPath(new URL('../bin/convlab-models.js', import.meta.url));
  const env = { ...process.env, CONVLAB_HOME: home };
  const err = await t.throwsAsync(promisify(execFile)(process.execPath, [bin, 'verify', 'vgg19'], { env }));
  const e = err as unknown as { code: number; stderr: string };
  t.is(e.code, 1);
  t.regex(e.stderr, /^error: no vgg19 weights on this machine: .* does not exist — place vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5/m);
});
