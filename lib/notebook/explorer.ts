/**
 * An image explorer that needs no kernel: every choice is computed beforehand and stored in the
 * output, and two dropdowns pick which set of images is shown. It works live (trusted notebook), in
 * a saved and reopened notebook, and in the exported HTML offline; where scripts do not run (an
 * untrusted notebook) the first choice stays visible.
 */
import { display, escapeHtml, jsonForScript, uniqueId } from './display';
import { imageFormat } from './image';
import { UserError } from '../util/errors';

export interface ExplorerPanel {
  /** Index into each axis' values, e.g. [scale index, ratio index]. */
  at: [number, number];
  /** Shown above the images, e.g. "anchor scale 1, ratio h/w 1/3". */
  caption: string;
  images: Array<{ data: Uint8Array; caption?: string }>;
}

export interface ExplorerOptions {
  /** The two dropdowns: a label and the text of each value. */
  axes: [{ label: string; values: string[] }, { label: string; values: string[] }];
  /** The choice shown first (default the first panel's). */
  initial?: [number, number];
  widthPx?: number;
  title?: string;
}

function dataUrl(data: Uint8Array): string {
  return `data:image/${imageFormat(data)};base64,${Buffer.from(data).toString('base64')}`;
}

/** The explorer as one HTML block (a <div> with two <select>s, the images, and a small script). */
export function explorerHtml(panels: ExplorerPanel[], options: ExplorerOptions): string {
  if (panels.length === 0) throw new UserError('an explorer needs at least one panel', 'compute the panels first');
  const count = panels[0].images.length;
  if (panels.some((p) => p.images.length !== count))
    throw new UserError('every explorer panel needs the same number of images', 'use the same images for every choice');
  const id = uniqueId('explorer');
  const key = (at: [number, number]) => `${at[0]},${at[1]}`;
  const byKey: Record<string, { caption: string; src: string[]; captions: string[] }> = {};
  for (const p of panels)
    byKey[key(p.at)] = { caption: p.caption, src: p.images.map((im) => dataUrl(im.data)), captions: p.images.map((im) => im.caption ?? '') };
  const initial = options.initial ?? panels[0].at;
  const first = byKey[key(initial)] ?? byKey[key(panels[0].at)];
  const width = options.widthPx ? `width:${options.widthPx}px;` : '';
  const selects = options.axes
    .map(
      (axis, a) =>
        `<label style="margin-right:16px">${escapeHtml(axis.label)} <select data-axis="${a}">` +
        axis.values.map((v, i) => `<option value="${i}"${i === initial[a] ? ' selected' : ''}>${escapeHtml(v)}</option>`).join('') +
        '</select></label>',
    )
    .join('');
  const figures = first.src
    .map(
      (src, i) =>
        `<figure style="display:inline-block;margin:4px;${width}"><img src="${src}" style="${width}image-rendering:pixelated;display:block"/>` +
        `<figcaption style="font-family:monospace;font-size:12px">${escapeHtml(first.captions[i])}</figcaption></figure>`,
    )
    .join('');
  const title = options.title ? `<div style="font-weight:bold;margin:4px">${escapeHtml(options.title)}</div>` : '';
  return [
    `<div id="${id}" class="metaanchor-explorer">${title}`,
    `<div style="margin:4px">${selects}</div>`,
    `<div class="metaanchor-explorer-caption" style="margin:4px;font-family:monospace">${escapeHtml(first.caption)}</div>`,
    `<div class="metaanchor-figure" style="max-width:100%">${figures}</div>`,
    '</div>',
    '<script type="text/javascript">',
    '(function () {',
    `  var panels = ${jsonForScript(byKey)};`,
    `  var root = document.getElementById(${JSON.stringify(id)});`,
    '  if (!root) return;',
    "  var selects = root.querySelectorAll('select');",
    '  function show() {',
    "    var p = panels[selects[0].value + ',' + selects[1].value];",
    "    var caption = root.querySelector('.metaanchor-explorer-caption');",
    "    var figs = root.querySelectorAll('figure');",
    "    if (!p) { caption.textContent = 'not computed for this choice'; return; }",
    '    caption.textContent = p.caption;',
    '    for (var i = 0; i < figs.length; i++) {',
    "      figs[i].querySelector('img').src = p.src[i];",
    "      figs[i].querySelector('figcaption').textContent = p.captions[i];",
    '    }',
    '  }',
    "  for (var i = 0; i < selects.length; i++) selects[i].addEventListener('change', show);",
    '})();',
    '</script>',
  ].join('\n');
}

/** Show the explorer in the current cell. */
export function showExplorer(panels: ExplorerPanel[], options: ExplorerOptions): void {
  display().html(explorerHtml(panels, options));
}
