import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainConfig } from '../../lib/train/config';
import { train } from '../../lib/train/trainer';

const photos = path.resolve(__dirname, '..', 'fixtures', 'photos');

// The paper preset (ResNet-50-FPN, 4x256 towers, m = 128, 80 COCO classes, SGD) is meant for a GPU;
// here it is built and takes one real training step on real photos at a small input size.
test('paper preset: builds ResNet-50-FPN MetaAnchor on COCO-format real photos and takes one training step', async () => {
  const data = { kind: 'coco' as const, annotations: path.join(photos, 'annotations.json'), images: path.join(photos, 'images') };
  const cfg = trainConfig('paper', {
    method: 'metaanchor',
    train: data,
    val: data,
    imageSizePx: 96,
    minSizePx: null,
    batchSize: 1,
    steps: 1,
    evalImages: 1,
    lr: { baseLr: 0.01, warmupSteps: 0, warmupFactor: 1, decaySteps: [], gamma: 0.1 },
  });
  assert.equal(cfg.optimizer, 'sgd');
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'paper-')), 'run');
  const r = await train(cfg, dir, { quiet: true });
  assert.equal(r.steps, 1);
  assert.ok(Number.isFinite(r.history[0].loss) && r.history[0].loss > 0, `loss ${r.history[0].loss}`);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint', 'weights.json'), 'utf8'));
  assert.equal(meta.meta.modelConfig.backbone, 'resnet50');
  assert.equal(meta.meta.modelConfig.towerWidth, 256);
  assert.equal(meta.meta.modelConfig.hiddenM, 128);
  assert.equal(meta.meta.modelConfig.numClasses, 80);
});
