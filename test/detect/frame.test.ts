import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configB, parseAnchorSpec } from '../../lib/anchors';
import { anchorBTensor } from '../../lib/detect/detect';
import { buildDetector, loadDetector, saveDetector, validateModelConfig } from '../../lib/model';
import { modelConfig } from '../../lib/model/config';
import { UserError } from '../../lib/util/errors';
import { silent, tinyConfig, useCpu } from '../model/helpers';

// The Eq. 7 frame is part of a MetaAnchor model (ModelConfig.standardBoxP3): detection encodes any
// asked anchors in it, never in the asked configuration's own standard box (Table 3's other
// inference anchors would otherwise be shifted by log(AH'/AH)).

const FRAME = { heightPx: 20, widthPx: 28 };

test('anchorBTensor encodes the asked anchors in the model frame, not in their own standard box', async () => {
  await useCpu();
  const det = buildDetector(tinyConfig({ method: 'metaanchor', standardBoxP3: FRAME }), silent);
  try {
    const asked = parseAnchorSpec('s:1,r:1; s:2,r:0.5');
    assert.notDeepEqual(asked.standardBoxP3, FRAME);
    const b = anchorBTensor(det, asked)!;
    const got = Array.from(b.dataSync());
    b.dispose();
    const want = Array.from(configB(asked, FRAME));
    const own = Array.from(configB(asked, asked.standardBoxP3));
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `b[${i}] = ${v}, want ${want[i]}`));
    assert.ok(
      got.some((v, i) => Math.abs(v - own[i]) > 1e-3),
      "the asked configuration's own frame must not be used",
    );
  } finally {
    det.dispose();
  }
});

test('a MetaAnchor model without a frame cannot detect: a clear error instead of a silent wrong frame', async () => {
  await useCpu();
  const cfg = tinyConfig({ method: 'metaanchor' });
  delete cfg.standardBoxP3;
  const det = buildDetector(cfg, silent);
  try {
    assert.throws(
      () => anchorBTensor(det, parseAnchorSpec('3x3')),
      (e: unknown) => e instanceof UserError && /no Eq\. 7 frame/.test(e.message),
    );
  } finally {
    det.dispose();
  }
});

test('model config: the frame is checked, and only MetaAnchor models have one', () => {
  const hinted = (re: RegExp) => (e: unknown) => e instanceof UserError && /standardBoxP3/.test(e.message) && re.test(e.hint ?? '');
  assert.throws(() => validateModelConfig(modelConfig('smoke', { method: 'baseline', standardBoxP3: FRAME })), hinted(/only MetaAnchor models/));
  assert.throws(() => validateModelConfig(modelConfig('smoke', { method: 'metaanchor', standardBoxP3: { heightPx: 0, widthPx: 4 } })), hinted(/both positive/));
  validateModelConfig(modelConfig('smoke', { method: 'metaanchor', standardBoxP3: FRAME }));
});

test('checkpoints: the frame round-trips in the model config; older checkpoints take it from their metadata or training anchors', async () => {
  await useCpu();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frame-'));
  const cfg = tinyConfig({ method: 'metaanchor', standardBoxP3: FRAME });
  const det = buildDetector(cfg, silent);
  try {
    saveDetector(det, path.join(dir, 'now'));
    const back = loadDetector(path.join(dir, 'now'));
    assert.deepEqual(back.config.standardBoxP3, FRAME);
    back.dispose();

    // Written before the frame was in the model config: it rode in the metadata.
    const old = buildDetector(cfg, silent);
    delete (old.config as { standardBoxP3?: unknown }).standardBoxP3;
    saveDetector(old, path.join(dir, 'old'), { anchors: '3x3', standardBoxP3: FRAME });
    const fromExtra = loadDetector(path.join(dir, 'old'));
    assert.deepEqual(fromExtra.config.standardBoxP3, FRAME);
    fromExtra.dispose();
    saveDetector(old, path.join(dir, 'older'), { anchors: '3x3' });
    const fromAnchors = loadDetector(path.join(dir, 'older'));
    assert.deepEqual(fromAnchors.config.standardBoxP3, parseAnchorSpec('3x3').standardBoxP3);
    fromAnchors.dispose();
    old.dispose();
  } finally {
    det.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
