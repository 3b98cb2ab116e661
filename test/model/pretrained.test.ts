/**
 * ImageNet backbone weights (lib/model/backbones/pretrained.ts): a torchvision-layout file for
 * ResNet-18 (random values, torchvision names and OIHW shapes) loads by name, transposed, with
 * frozen BN and detectron2's frozen stages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildDetector } from '../../lib/model/detector';
import { NamedArray, writeWeights } from '../../lib/model/weights-file';
import { UserError } from '../../lib/util/errors';
import { pseudoRandom, tinyConfig, useCpu, values } from './helpers';

let tmp = '';
before(async () => {
  await useCpu();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'metaanchor-pretrained-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A torchvision-style resnet18 state_dict (minus num_batches_tracked) with deterministic values. */
function torchvisionResnet18(): NamedArray[] {
  // Take names and shapes from our own frozen-BN ResNet-18, then express them as torchvision does.
  const probe = buildDetector(tinyConfig({ backbone: 'resnet18', backboneNorm: 'frozen-bn', freezeAt: 0 }), { log: () => undefined });
  const arrays: NamedArray[] = [];
  let seed = 1;
  for (const [name, v] of probe.store.entries()) {
    if (!name.startsWith('backbone.')) continue;
    const key = name.slice('backbone.'.length);
    const s = v.shape as number[];
    const shape = v.rank === 4 ? [s[3], s[2], s[0], s[1]] : [...s];
    const lo = key.endsWith('running_var') ? 0.5 : -0.1;
    arrays.push({ name: key, shape, data: pseudoRandom(v.size, seed++, lo, lo + 0.2) });
  }
  probe.dispose();
  arrays.push({ name: 'fc.weight', shape: [1000, 512], data: new Float32Array(512000) });
  return arrays;
}

test('ResNet-18 ImageNet file in torchvision layout: loaded by name, OIHW transposed, stages frozen', () => {
  const arrays = torchvisionResnet18();
  const dir = path.join(tmp, 'r18');
  writeWeights(dir, arrays, { layout: 'torchvision' });
  const lines: string[] = [];
  const det = buildDetector(tinyConfig({ backbone: 'resnet18', backboneWeights: dir }), { log: (l) => lines.push(l) });
  assert.match(lines.join('\n'), /resnet18: loaded 100 ImageNet tensors/);
  const byName = new Map(arrays.map((a) => [a.name, a]));
  // conv weight: model [kh, kw, i, o] == file [o, i, kh, kw].
  const file = byName.get('layer2.0.conv1.weight')!; // [128, 64, 3, 3]
  const model = values(det.store.get('backbone.layer2.0.conv1.weight')); // [3, 3, 64, 128]
  for (const [o, i, y, x] of [
    [0, 0, 0, 0],
    [127, 63, 2, 2],
    [5, 17, 1, 2],
    [64, 3, 2, 0],
  ]) {
    assert.equal(model[((y * 3 + x) * 64 + i) * 128 + o], file.data[((o * 64 + i) * 3 + y) * 3 + x], `o${o} i${i} y${y} x${x}`);
  }
  assert.deepEqual(Array.from(values(det.store.get('backbone.layer3.1.bn2.running_var'))), Array.from(byName.get('layer3.1.bn2.running_var')!.data));
  // auto: frozen BN everywhere, FREEZE_AT = 2 (stem + layer1), later stages train.
  const trainable = (n: string) => det.store.get(n).trainable;
  assert.equal(trainable('backbone.conv1.weight'), false);
  assert.equal(trainable('backbone.layer1.1.conv2.weight'), false);
  assert.equal(trainable('backbone.layer2.0.conv1.weight'), true);
  assert.equal(trainable('backbone.layer4.0.downsample.0.weight'), true);
  assert.equal(trainable('backbone.layer4.0.downsample.1.weight'), false);
  assert.equal(trainable('fpn.lateral3.weight'), true);
  const frozen = det.store.count() - det.store.count({ trainableOnly: true });
  // stem conv 9408 + layer1 convs 4 * 36864 + every BN's 4 vectors (4800 channels in resnet18).
  assert.equal(frozen, 9408 + 4 * 36864 + 4 * 4800);
  const x = tf.tensor4d(pseudoRandom(32 * 32 * 3, 3, 0, 255), [1, 32, 32, 3]);
  const out = det.forward(x, tf.tensor2d([[0, 0]]));
  assert.ok(values(out.clsLogits).every(Number.isFinite));
  det.dispose();

  // A file missing a tensor, or of another architecture, is refused with what is wrong.
  writeWeights(
    path.join(tmp, 'broken'),
    arrays.filter((a) => a.name !== 'layer4.1.bn2.running_var'),
    { layout: 'torchvision' },
  );
  assert.throws(
    () => buildDetector(tinyConfig({ backbone: 'resnet18', backboneWeights: path.join(tmp, 'broken') }), { log: () => undefined }),
    (e: unknown) => e instanceof UserError && /missing 1 \(e\.g\. layer4\.1\.bn2\.running_var\)/.test(e.message),
  );
  assert.throws(
    () => buildDetector(tinyConfig({ backbone: 'resnet50', backboneWeights: dir }), { log: () => undefined }),
    (e: unknown) => e instanceof UserError && /do not fit this backbone/.test(e.message),
  );
});

test('random-init ResNet prints its one-line note', () => {
  const lines: string[] = [];
  const det = buildDetector(tinyConfig({ backbone: 'resnet18' }), { log: (l) => lines.push(l) });
  assert.deepEqual(lines, [
    'resnet18: no ImageNet weights given (backboneWeights), random init with GroupNorm; training from scratch needs a much longer schedule',
  ]);
  det.dispose();
});
