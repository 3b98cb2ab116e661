/**
 * Images in notebook cells: PNG/JPEG buffers (e.g. from sharp's toBuffer()) shown as they are, or
 * scaled up (nearest-neighbour in the browser, so small synthetic images stay crisp).
 */
import { display, escapeHtml } from './display';
import { UserError } from '../util/errors';

export type ImageFormat = 'png' | 'jpeg';

/** PNG or JPEG from the file signature; a UserError for anything else. */
export function imageFormat(data: Uint8Array): ImageFormat {
  if (data.length >= 8 && data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47) return 'png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  throw new UserError('not a PNG or JPEG image', 'encode it first, e.g. sharp(raw, { raw: { width, height, channels } }).png().toBuffer()');
}

export interface ImageOptions {
  /** Displayed width; the height follows the aspect ratio. Default: natural size. */
  widthPx?: number;
  caption?: string;
}

/** An <img> (data URL) with optional width and caption, for grids and scaled display. */
export function imageHtml(data: Uint8Array, options: ImageOptions = {}): string {
  const format = imageFormat(data);
  const src = `data:image/${format};base64,${Buffer.from(data).toString('base64')}`;
  const width = options.widthPx !== undefined ? `width:${options.widthPx}px;` : '';
  const img = `<img src="${src}" style="${width}image-rendering:pixelated;display:block"/>`;
  if (!options.caption) return img;
  // A caption wraps within the image's width instead of widening the figure.
  const figWidth = options.widthPx !== undefined ? `width:${options.widthPx}px;` : '';
  return `<figure style="display:inline-block;margin:4px;${figWidth}">${img}<figcaption style="font-family:monospace;font-size:12px">${escapeHtml(options.caption)}</figcaption></figure>`;
}

/** Show one image. Without options it is a plain image output (saved as a PNG/JPEG in the notebook). */
export function showImage(data: Uint8Array, options: ImageOptions = {}): void {
  if (options.widthPx === undefined && options.caption === undefined) {
    if (imageFormat(data) === 'png') display().png(data);
    else display().jpeg(data);
    return;
  }
  display().html(imageHtml(data, options));
}

export interface ImagesOptions {
  widthPx?: number;
  /** Lay the images out in this many columns (a grid, row by row); default: side by side, wrapping. */
  columns?: number;
  /** A line above the images. */
  title?: string;
}

/** Several images side by side (wrapping, or in `columns`), each with an optional caption: one HTML block. */
export function imagesHtml(images: Array<{ data: Uint8Array; caption?: string }>, options: ImagesOptions = {}): string {
  const items = images.map(
    (im) => `<div style="display:inline-block;vertical-align:top">${imageHtml(im.data, { widthPx: options.widthPx, caption: im.caption ?? ' ' })}</div>`,
  );
  const layout = options.columns ? `display:grid;grid-template-columns:repeat(${options.columns},max-content);` : '';
  const title = options.title ? `<div style="font-weight:bold;margin:4px">${escapeHtml(options.title)}</div>` : '';
  return `${title}<div class="metaanchor-figure" style="${layout}max-width:100%">${items.join('')}</div>`;
}

/** Show several images side by side (wrapping, or in `columns`), each with an optional caption. */
export function showImages(images: Array<{ data: Uint8Array; caption?: string }>, options: ImagesOptions = {}): void {
  display().html(imagesHtml(images, options));
}
