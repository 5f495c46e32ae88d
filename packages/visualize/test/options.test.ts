/**
 * The option schemas: parsed options parse again to themselves (one call hands them to another, and
 * the run record holds them), the record's parameters are the parsed options, and layer roles are
 * accepted wherever a layer name is.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions, saveImage, type OptionsSchema } from '@convlab/core';
import {
  AttributeOptions,
  FeaturesOptions,
  FigureOptions,
  FiltersOptions,
  LayersOptions,
  ModelOptions,
  OcclusionOptions,
  ProjectOptions,
  ReportOptions,
  SanityOptions,
  Top9Options,
} from '../src/options.js';
import { checkTargetForModel } from '../src/checks.js';
import { createMethod } from '../src/methods/index.js';
import { describeLayers, formatLayers } from '../src/layers.js';
import { runFeatures, runFilters } from '../src/runs.js';
import { tinyVgg } from './helpers/nets.js';

test('every schema: flag text parses to options that parse again to themselves', (t) => {
  const cases: [OptionsSchema, Record<string, unknown>][] = [
    [AttributeOptions, { images: ['a.jpg', 'b'], layer: '@late', unit: 'strongest', position: '3,5', methods: 'guided-backprop,grad-cam', size: '256,320', smoothgradSigma: '0.1' }],
    [ProjectOptions, { images: ['a.jpg'], layer: 'mixed3', unit: '7', position: 'all', rules: 'deconvnet,gradient' }],
    [OcclusionOptions, { images: ['a.jpg'], class: '2', square: '32', stride: '8', batch: '4' }],
    [Top9Options, { images: 'photos', layer: 'block_6_expand_relu', units: 'strongest:8', k: '4', limit: '100', unitImages: false }],
    [Top9Options, { images: 'photos', layer: 'block_6_expand_relu', units: '3,17,42' }],
    [FeaturesOptions, { images: ['a.jpg'], layer: '@mid', maxChannels: '64', sort: true }],
    [FiltersOptions, {}],
    [SanityOptions, { images: ['a.jpg'], class: '0', steps: '3', methods: 'all' }],
    [ReportOptions, { images: ['a.jpg'], layer: 'x', unit: '1', sanitySteps: '2' }],
    [FigureOptions, { layer: '@early,block_10_expand_relu', units: 'spread:4' }],
    [LayersOptions, { size: '96' }],
    [ModelOptions, { weights: 'random', seed: '3' }],
  ];
  for (const [schema, raw] of cases) {
    const parsed = parseOptions(schema, raw, 'cli');
    t.deepEqual(parseOptions(schema, parsed, 'code'), parsed, JSON.stringify(raw));
    t.deepEqual(JSON.parse(JSON.stringify(parsed)), parsed, 'plain JSON');
  }
  const a = parseOptions(AttributeOptions, cases[0][1], 'cli');
  t.deepEqual([a.unit, a.position, a.methods, a.size], ['strongest', [3, 5], ['guided', 'gradcam'], [256, 320]]);
  t.deepEqual(parseOptions(ProjectOptions, cases[1][1], 'cli').rules, ['deconvnet', 'normal']);
  t.deepEqual(parseOptions(Top9Options, cases[4][1], 'cli').units, [3, 17, 42]);
  // Code callers get the field's name, and unknown fields are refused.
  t.throws(() => parseOptions(OcclusionOptions, { images: ['a.jpg'], batch: 0 }, 'code'), { message: /^batch 0 is out of range/ });
  t.throws(() => parseOptions(FiltersOptions, { outDir: 'x' }, 'code'), { message: /^unknown option "outDir"/ });
});

test('layer roles work wherever a layer name does: targets, Grad-CAM, features, the layers call', async (t) => {
  const net = tinyVgg(32);
  const roles = net.layerRoles();
  t.deepEqual(checkTargetForModel(net, { layer: '@late', unit: 0 }, [32, 32]), { layer: roles.late, unit: 0 });
  const image = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 53) % 256) };
  const unit = await createMethod('guided', net).attribute(image, { layer: '@mid', unit: 1 });
  t.is(unit.target.layer, roles.mid);
  const cam = await createMethod('gradcam', net).attribute(image, { classIndex: 1 });
  t.is(cam.coarse!.layer, roles['last-conv'], 'Grad-CAM of a class: the last conv-block output');
  const layers = describeLayers(net, { size: [48, 48] });
  t.deepEqual(layers.roles, roles);
  t.deepEqual(layers.size, [48, 48]);
  t.deepEqual(layers.layers.find((l) => l.name === roles.early)?.roles.includes('early'), true);
  const lines = formatLayers(layers);
  t.true(lines.some((l) => l.startsWith(roles.early) && l.includes('@early')), lines.join('\n'));
  t.regex(lines.at(-1)!, /^roles at 48x48: @early = /);

  const dir = await mkdtemp(join(tmpdir(), 'visualize-options-'));
  const file = join(dir, 'in.png');
  await saveImage(image, file);
  const features = await runFeatures(net, { images: [file], layer: '@early', out: dir });
  t.true(features.files.some((f) => f.endsWith(`features-${roles.early}.json`)), features.files.join(', '));
  // The run record's parameters are the parsed options.
  const filters = await runFilters(net, { out: dir });
  const record = JSON.parse(await readFile(filters.record, 'utf8'));
  t.deepEqual(record.parameters, parseOptions(FiltersOptions, { out: dir }, 'code'));
  const feats = JSON.parse(await readFile(features.record, 'utf8'));
  t.deepEqual(feats.parameters, parseOptions(FeaturesOptions, { images: [file], layer: '@early', out: dir }, 'code'));
  net.dispose();
  await rm(dir, { recursive: true, force: true });
});
