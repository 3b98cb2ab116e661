import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { modelConfig } from '../../lib/model/config';
import { buildDetector } from '../../lib/model/detector';
import { initWeightsFrom } from '../../lib/model/checkpoint';
import { readWeights } from '../../lib/model/weights-file';
import { pretrainBackbone, pretrainConfig } from '../../lib/train/pretrain';
import { pretrainedTask, trunkTrainConfig } from '../../lib/train/pretrain-trunk';
import { train } from '../../lib/train/trainer';
import { UserError } from '../../lib/util/errors';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-'));
const silent = { log: () => undefined };

test('digit-classification pretraining writes only backbone weights, deterministically, with a held-out accuracy', async () => {
  const model = modelConfig('smoke', {});
  const cfg = {
    ...pretrainConfig(model),
    steps: 6,
    batchSize: 4,
    imageSizePx: 32,
    testImages: 20,
    lr: { baseLr: 0.002, warmupSteps: 0, warmupFactor: 1, decaySteps: [], gamma: 0.1 },
  };
  const a = await pretrainBackbone(cfg, path.join(tmp(), 'a'), { quiet: true });
  const b = await pretrainBackbone(cfg, path.join(tmp(), 'b'), { quiet: true });
  assert.ok(a.accuracy >= 0 && a.accuracy <= 1);
  assert.equal(a.accuracy, b.accuracy);
  const wa = readWeights(a.dir);
  const wb = readWeights(b.dir);
  assert.ok(wa.names().length > 0 && wa.names().every((n) => n.startsWith('backbone.')), wa.names().join(' '));
  for (const n of wa.names()) assert.deepEqual(Array.from(wa.get(n)!.data), Array.from(wb.get(n)!.data), `${n} differs between equal configs`);
  // The weights fit the detector's backbone, and set exactly it.
  const det = buildDetector(modelConfig('smoke', { numClasses: 4 }), silent);
  try {
    const before = Array.from(det.store.get('fpn.lateral3.weight').dataSync());
    const n = initWeightsFrom(det, a.dir, ['backbone.']);
    assert.equal(n, wa.names().length);
    for (const name of wa.names()) assert.deepEqual(Array.from(det.store.get(name).dataSync()), Array.from(wa.get(name)!.data));
    assert.deepEqual(Array.from(det.store.get('fpn.lateral3.weight').dataSync()), before, 'the FPN keeps its init');
    assert.throws(
      () => initWeightsFrom(det, a.dir, ['fpn.']),
      (e: unknown) => e instanceof UserError && /does not hold/.test(e.message),
    );
    assert.throws(
      () => initWeightsFrom(det, a.dir, ['nothing.']),
      (e: unknown) => e instanceof UserError && /no parameter of this model starts with/.test(e.message),
    );
  } finally {
    det.dispose();
  }
  assert.throws(() => pretrainConfig(modelConfig('paper')), /small GroupNorm backbone/);
});

test('the detection trunk: one square anchor on the six other digits, from the digit-classification backbone; it initialises backbone, FPN and towers', async () => {
  const model = modelConfig('quick', {});
  const cfg = trunkTrainConfig(model);
  assert.equal(cfg.method, 'baseline');
  assert.equal(cfg.anchors, 's:1,r:1');
  assert.deepEqual(cfg.train, { kind: 'mnist-det', preset: 'pretrain' });
  assert.deepEqual(cfg.initFrom, { weights: 'pretrained:mnist-digits', prefixes: ['backbone.'] });
  assert.deepEqual(cfg.model.smallWidths, model.smallWidths);
  assert.equal(cfg.model.towerWidth, model.towerWidth);
  assert.equal(pretrainedTask('pretrained:mnist-det-trunk'), 'mnist-det-trunk');
  assert.throws(() => pretrainedTask('pretrained:imagenet'), /unknown pretrained weights/);
  // A two-step trunk of the smoke model: its weights initialise another run's trunk.
  const smoke = modelConfig('smoke', {});
  const dir = path.join(tmp(), 'trunk');
  const small = {
    ...trunkTrainConfig(smoke),
    preset: 'smoke' as const,
    model: { ...trunkTrainConfig(smoke).model },
    steps: 2,
    evalImages: 2,
    checkpointEvery: 1,
    initFrom: undefined,
    imageSizePx: 64,
    lr: { baseLr: 0.001, warmupSteps: 0, warmupFactor: 1, decaySteps: [], gamma: 0.1 },
  };
  await train(small, dir, { quiet: true });
  const file = readWeights(path.join(dir, 'checkpoint'));
  const det = buildDetector(modelConfig('smoke', { numClasses: 4, method: 'metaanchor' }), silent);
  try {
    const prefixes = ['backbone.', 'fpn.', 'head.clsTower.', 'head.boxTower.'];
    const n = initWeightsFrom(det, path.join(dir, 'checkpoint'), prefixes);
    const shared = det.store.names().filter((x) => prefixes.some((p) => x.startsWith(p)));
    assert.equal(n, shared.length);
    for (const name of shared) assert.deepEqual(Array.from(det.store.get(name).dataSync()), Array.from(file.get(name)!.data), name);
    // The anchor functions (here MetaAnchor's generators) are not in the trunk: they start fresh.
    assert.ok(det.store.names().some((x) => x.includes('Generator') && !file.get(x)));
  } finally {
    det.dispose();
  }
});
