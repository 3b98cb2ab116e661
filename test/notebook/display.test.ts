import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { DataFrame } from 'danfojs-node';
import { DisplaySink, DisplayTarget, display, jsonForScript, setDisplaySink } from '../../lib/notebook/display';
import { PLOTLY_STATIC_PATH, figureHtml, plotlyBundlePath, plotlyLibraryHtml, plotlyVersion, showPlot } from '../../lib/notebook/plotly';
import { formatCell, showTable, tableHtml } from '../../lib/notebook/table';
import { imageFormat, imageHtml, showImage } from '../../lib/notebook/image';
import { LiveLossCurve, lossCurveFigure, showLossCurve } from '../../lib/notebook/loss-curve';
import { UserError } from '../../lib/util/errors';

/** Records every output: kind, payload, and which display (0 = the cell's, 1.. = updatable ones). */
function recorder() {
  const outputs: { display: number; kind: string; value: string }[] = [];
  let displays = 0;
  const sink = (id: number): DisplaySink => ({
    html: (s) => outputs.push({ display: id, kind: 'html', value: s }),
    png: (b) => outputs.push({ display: id, kind: 'png', value: Buffer.from(b).toString('base64') }),
    jpeg: (b) => outputs.push({ display: id, kind: 'jpeg', value: Buffer.from(b).toString('base64') }),
    text: (s) => outputs.push({ display: id, kind: 'text', value: s }),
    markdown: (s) => outputs.push({ display: id, kind: 'markdown', value: s }),
  });
  const target: DisplayTarget = { display: () => sink(0), newDisplay: () => sink(++displays) };
  return { outputs, target };
}

function withRecorder(fn: (outputs: { display: number; kind: string; value: string }[]) => void): void {
  const rec = recorder();
  setDisplaySink(rec.target);
  try {
    fn(rec.outputs);
  } finally {
    setDisplaySink(undefined);
  }
}

const PNG_1x1 = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082',
  'hex',
);

test('outside a kernel, display without a sink is a UserError', () => {
  assert.throws(
    () => display(),
    (e: unknown) => e instanceof UserError && /needs a notebook/.test(e.message),
  );
});

test('jsonForScript: no "<" survives, typed arrays become arrays, value round-trips', () => {
  const value = { title: '</script><b>x</b>', y: new Float32Array([0.5, 1.5]), s: 'a\u2028b' };
  const text = jsonForScript(value);
  assert.equal(text.includes('<'), false);
  assert.equal(text.includes('\u2028'), false);
  assert.deepEqual(JSON.parse(text), { title: '</script><b>x</b>', y: [0.5, 1.5], s: 'a\u2028b' });
});

test('the embedded bundle is plotly.js 4.1.2 and cannot close its own script element', () => {
  assert.equal(plotlyVersion(), '4.1.2');
  const html = plotlyLibraryHtml();
  assert.equal(html.length, fs.readFileSync(plotlyBundlePath(), 'utf8').length + '<script type="text/javascript"></script>'.length);
  assert.equal((html.match(/<\/script/gi) ?? []).length, 1);
});

test('figure outputs never hold plotly.js: each page loads it from the Jupyter server or has it inlined', () => {
  withRecorder((outputs) => {
    showPlot({ data: [{ type: 'scatter', x: [1, 2, 3], y: [3, 1, 2] }] });
    showPlot({ data: [{ type: 'bar', x: ['a'], y: [1] }] });
    assert.equal(outputs.length, 2);
    assert.ok(outputs.every((o) => !o.value.includes('plotly.js v4.1.2') && o.value.length < 4000));
    assert.ok(outputs[0].value.includes('"x":[1,2,3],"y":[3,1,2]'));
    assert.ok(outputs[1].value.includes('"type":"bar"'));
    // The loader asks the page's Jupyter server (body data-base-url) for the static bundle.
    assert.ok(outputs[0].value.includes("getAttribute('data-base-url')"));
    assert.ok(outputs[0].value.includes(JSON.stringify(PLOTLY_STATIC_PATH)));
    // The figure's script is valid JavaScript (it runs in the page, where a syntax error hides the plot).
    for (const o of outputs) {
      const script = /<script type="text\/javascript">([^]*)<\/script>/.exec(o.value)![1];
      assert.doesNotThrow(() => new Function(script), o.value);
    }
  });
});

test('figureHtml: one div, its id used by the script, height and layout merged', () => {
  const html = figureHtml({ data: [{ y: [1] }], layout: { title: { text: 'T' } } }, { heightPx: 250 });
  const id = /<div id="([^"]+)"/.exec(html)?.[1];
  assert.ok(id);
  assert.ok(html.includes(`document.getElementById(${JSON.stringify(id)})`));
  assert.ok(html.includes('"layout":{"height":250,'));
  assert.ok(html.includes('"title":{"text":"T"}'));
  assert.notEqual(/<div id="([^"]+)"/.exec(figureHtml({ data: [] }))?.[1], id);
  assert.throws(() => figureHtml({} as never), UserError);
});

test('tableHtml from row objects: header union, numbers with 3 decimals, escaping, missing cells empty', () => {
  const html = tableHtml([
    { name: '<b>', ap: 0.37125 },
    { ap: 12, extra: true },
  ]);
  const headers = [...html.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
  assert.deepEqual(headers, ['name', 'ap', 'extra']);
  const cells = [...html.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(cells, ['&lt;b&gt;', '0.371', '', '', '12.000', 'true']);
  assert.ok(/<td style="[^"]*text-align:right">0.371/.test(html));
  assert.throws(() => tableHtml([1 as never]), UserError);
});

test('tableHtml from a danfojs DataFrame, with index when it is not 0..n-1, and row cut', () => {
  const df = new DataFrame({ k: [1, 2, 3], v: [0.5, 0.25, 0.125] }, { index: ['a', 'b', 'c'] });
  const html = tableHtml(df, { digits: 2, maxRows: 2, caption: 'AP' });
  assert.ok(html.includes('<caption'));
  const rowHeads = [...html.matchAll(/<tr><th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
  assert.deepEqual(rowHeads, ['', 'a', 'b']);
  const cells = [...html.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(cells, ['1', '0.50', '2', '0.25', '... 1 more row (3 in all)']);
  const plain = tableHtml(new DataFrame([{ a: 1 }, { a: 2 }]));
  assert.equal([...plain.matchAll(/<tr><th/g)].length, 1); // default index: header row only
});

test('formatCell', () => {
  assert.equal(formatCell(3), '3');
  assert.equal(formatCell(1 / 3), '0.333');
  assert.equal(formatCell(1 / 3, 1), '0.3');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell(-Infinity), '-inf');
  assert.equal(formatCell(null), '');
  assert.equal(formatCell([1, 2]), '[1,2]');
  assert.equal(formatCell(26, 1, true), '26.0');
});

test('a column with decimals shows its integers with the same decimals (paper 26.0 beside 26.5)', () => {
  const html = tableHtml(
    [
      { row: '3x3', paper: 26, n: 4 },
      { row: '5x5', paper: 26.5, n: 5 },
    ],
    { digits: 1 },
  );
  const cells = [...html.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(cells, ['3x3', '26.0', '4', '5x5', '26.5', '5']);
});

test('images: format from the signature; plain PNG output, or scaled <img> with caption', () => {
  assert.equal(imageFormat(PNG_1x1), 'png');
  assert.equal(imageFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.throws(() => imageFormat(Buffer.from('GIF89a')), UserError);
  const html = imageHtml(PNG_1x1, { widthPx: 64, caption: 'a<b' });
  assert.ok(html.includes(`src="data:image/png;base64,${PNG_1x1.toString('base64')}"`));
  assert.ok(html.includes('width:64px;'));
  assert.ok(html.includes('a&lt;b'));
  withRecorder((outputs) => {
    showImage(PNG_1x1);
    showImage(PNG_1x1, { widthPx: 10 });
    assert.deepEqual(
      outputs.map((o) => o.kind),
      ['png', 'html'],
    );
    assert.equal(outputs[0].value, PNG_1x1.toString('base64'));
  });
});

test('lossCurveFigure: one trace per series, steps on x, log axis on request', () => {
  const fig = lossCurveFigure(
    {
      cls: [
        { step: 1, loss: 2 },
        { step: 2, loss: 1 },
      ],
      box: [{ step: 1, loss: 0.5 }],
    },
    { logY: true },
  );
  assert.deepEqual(
    fig.data.map((t) => [t.name, t.x, t.y, t.mode]),
    [
      ['cls', [1, 2], [2, 1], 'lines'],
      ['box', [1], [0.5], 'markers'],
    ],
  );
  assert.equal((fig.layout?.yaxis as { type: string }).type, 'log');
  assert.equal(fig.layout?.showlegend, true);
});

test('LiveLossCurve redraws at most every minIntervalMs into one updatable display, and finishes', () => {
  withRecorder((outputs) => {
    let nowMs = 0;
    const curve = new LiveLossCurve({ minIntervalMs: 1000, now: () => nowMs });
    const drew: boolean[] = [];
    for (let step = 1; step <= 6; step++) {
      drew.push(curve.push(step, 1 / step));
      nowMs += 400;
    }
    // t = 0 draws, 400 and 800 do not, 1200 draws, 1600 and 2000 do not.
    assert.deepEqual(drew, [true, false, false, true, false, false]);
    curve.finish();
    curve.finish(); // nothing new: no redraw
    const updates = outputs;
    assert.equal(updates.length, 3);
    assert.ok(updates.every((o) => o.display === 1));
    assert.ok(updates[2].value.includes('"x":[1,2,3,4,5,6]'));
    showLossCurve(curve.series);
    assert.equal(outputs.length, 4);
    assert.equal(outputs[3].display, 0);
  });
});

test('showTable sends one html output', () => {
  withRecorder((outputs) => {
    showTable([{ a: 1 }]);
    assert.deepEqual(
      outputs.map((o) => o.kind),
      ['html'],
    );
  });
});

test('a right-side y axis gets automargin and at least 70 px of right margin; other figures keep theirs', () => {
  const two = figureHtml({ data: [], layout: { yaxis2: { side: 'right', overlaying: 'y', title: { text: 'paper' } } } });
  assert.match(two, /"margin":\{"t":40,"r":70,"b":50,"l":60\}/);
  assert.match(two, /"yaxis2":\{"automargin":true,"side":"right"/);
  assert.match(figureHtml({ data: [] }), /"margin":\{"t":40,"r":20,"b":50,"l":60\}/);
  assert.match(
    figureHtml({ data: [], layout: { margin: { r: 120 }, yaxis2: { side: 'right', automargin: false } } }),
    /"margin":\{"r":120\}.*"yaxis2":\{"automargin":false,"side":"right"\}/,
  );
});
