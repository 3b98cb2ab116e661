/**
 * The WebGPU backend in Node: `@tensorflow/tfjs-backend-webgpu` on Dawn (the `webgpu` npm package,
 * `dawn.node`; Vulkan on Linux, Metal on macOS, D3D12 on Windows, OpenGL ES/GL as a fallback).
 *
 * Adapters:
 * - hardware: the platform's native API first (core feature level), then Dawn's OpenGL backend in
 *   compatibility mode; an adapter whose driver is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader,
 *   softpipe, WARP) or that Dawn flags as a fallback adapter is not a hardware adapter;
 * - software: Mesa's llvmpipe through Dawn's OpenGL backend (EGL_PLATFORM=surfaceless,
 *   `featureLevel: 'compatibility'`). It runs every kernel on the CPU, far slower than wasm; it exists
 *   so that the kernels can be checked without a GPU. Used only when asked for: option
 *   `webgpuSoftware`, or env METAANCHOR_WEBGPU_SOFTWARE=1.
 *
 * tfjs-backend-webgpu registers itself only when `navigator.gpu` exists at import time; we never set
 * `navigator.gpu`, so the package only exports `WebGPUBackend`, and this module registers 'webgpu' with a
 * device it requested itself: every adapter limit is requested (tfjs asks for six of them; in
 * compatibility mode the defaults allow only 4 storage buffers per shader stage).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { registerWebGPUKernelFixes } from './webgpu-kernels';

export interface AdapterReport {
  /** 'hardware' or 'software' (a CPU rasteriser). */
  type: 'hardware' | 'software';
  /** The graphics API Dawn drives: Vulkan, Metal, D3D12, OpenGL. */
  api: string;
  featureLevel: 'core' | 'compatibility';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Key limits (bytes / counts). */
  limits: Record<string, number>;
  features: string[];
}

export interface WebGPUProbe {
  ok: boolean;
  adapter?: AdapterReport;
  /** Why WebGPU is not available (when !ok), one line. */
  reason?: string;
  /** What to install or set. */
  hint?: string;
  /** Adapters found but not used (e.g. a software adapter when not asked for). */
  notes: string[];
}

const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

const SOFTWARE_DRIVER = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b/i;

type GPUAdapterLike = any;
type DawnModule = { create: (flags: string[]) => any; globals: Record<string, unknown> };

let dawn: DawnModule | undefined;
let dawnError: string | undefined;
/** The GPU objects (navigator.gpu instances) must outlive their adapters: keep them. */
const gpus: any[] = [];

/** Whether the caller asked for the software adapter (option, else METAANCHOR_WEBGPU_SOFTWARE=1). */
export function softwareAdapterAllowed(option?: boolean): boolean {
  if (option !== undefined) return option;
  return ['1', 'true', 'yes'].includes((process.env.METAANCHOR_WEBGPU_SOFTWARE ?? '').toLowerCase());
}

function loadDawn(): DawnModule | undefined {
  if (dawn || dawnError) return dawn;
  try {
    const mod = require('webgpu') as DawnModule;
    if (typeof mod.create !== 'function') throw new Error('the webgpu package exports no create()');
    // tfjs-backend-webgpu uses the usage-flag constants (GPUBufferUsage, GPUMapMode, ...) as globals.
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as any)[k] = v;
    }
    dawn = mod;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    dawnError =
      e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ERR_MODULE_NOT_FOUND'
        ? 'the `webgpu` package (Dawn for Node) is not installed'
        : `the \`webgpu\` package failed to load: ${(e?.message ?? String(err)).split('\n')[0].slice(0, 200)}`;
  }
  return dawn;
}

function nativeApi(): string {
  return process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
}

const API_NAMES: Record<string, string> = { vulkan: 'Vulkan', metal: 'Metal', d3d12: 'D3D12', opengl: 'OpenGL', opengles: 'OpenGL ES' };

async function requestAdapter(api: string, featureLevel: 'core' | 'compatibility'): Promise<{ adapter: GPUAdapterLike | null; gpu: any }> {
  const gpu = dawn!.create([`backend=${api}`]);
  gpus.push(gpu);
  const opts: Record<string, unknown> = { powerPreference: 'high-performance' };
  if (featureLevel === 'compatibility') opts.featureLevel = 'compatibility';
  try {
    return { adapter: await gpu.requestAdapter(opts), gpu };
  } catch {
    return { adapter: null, gpu };
  }
}

function describe(adapter: GPUAdapterLike, api: string, featureLevel: 'core' | 'compatibility'): AdapterReport {
  const info = adapter.info ?? {};
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  const limits: Record<string, number> = {};
  for (const k of KEY_LIMITS) limits[k] = Number(adapter.limits?.[k]);
  return {
    type: info.isFallbackAdapter || SOFTWARE_DRIVER.test(text) ? 'software' : 'hardware',
    api: API_NAMES[api] ?? api,
    featureLevel,
    vendor: info.vendor || '',
    architecture: info.architecture || '',
    device: info.device || '',
    description: info.description || '',
    limits,
    features: [...(adapter.features ?? [])].map(String).sort(),
  };
}

/** One line naming the adapter: device, vendor/architecture, API, key limits. */
export function formatAdapter(a: AdapterReport): string {
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  const who = [a.device || a.description || 'unknown device', [a.vendor, a.architecture].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  return (
    `${a.type} adapter ${who} via ${a.api}${a.featureLevel === 'compatibility' ? ' (compatibility)' : ''}` +
    (a.description && a.description !== a.device ? ` — ${a.description}` : '') +
    `; max buffer ${mib(a.limits.maxBufferSize)}, storage binding ${mib(a.limits.maxStorageBufferBindingSize)}, ` +
    `workgroup storage ${a.limits.maxComputeWorkgroupStorageSize} B, invocations ${a.limits.maxComputeInvocationsPerWorkgroup}, ` +
    `storage buffers/stage ${a.limits.maxStorageBuffersPerShaderStage}` +
    (a.features.includes('shader-f16') ? ', shader-f16' : '')
  );
}

/** Whether the dynamic loader can find libvulkan.so.1 (ldconfig cache or LD_LIBRARY_PATH). */
export function vulkanLoaderPresent(): boolean {
  let cache = '';
  try {
    cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    try {
      cache = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return true; // cannot tell: let Dawn try
    }
  }
  if (cache.includes('libvulkan.so.1')) return true;
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

let chosen: { adapter: GPUAdapterLike; gpu: any; report: AdapterReport } | undefined;
let probed: WebGPUProbe | undefined;
let registered = false;
const deviceErrors: string[] = [];

/**
 * Validation / out-of-memory errors the device reported since the last call (and clears them). An
 * invalid pipeline does not throw in tfjs: its output keeps stale contents, so callers that read
 * results (lib/backend/read.ts) check this.
 */
export function takeWebGPUErrors(): string[] {
  return deviceErrors.splice(0, deviceErrors.length);
}

/**
 * Find an adapter: hardware first (native API, then OpenGL compatibility); the software adapter only
 * when `allowSoftware`. Does not touch tfjs. Cached per process.
 */
export async function probeWebGPU(allowSoftware = softwareAdapterAllowed(), opts: { nativeOnly?: boolean } = {}): Promise<WebGPUProbe> {
  if (probed && (probed.ok || !allowSoftware || probed.adapter)) return probed;
  const notes: string[] = [];
  if (process.platform === 'linux' && !vulkanLoaderPresent() && opts.nativeOnly) {
    // Loading Dawn only to hear that libvulkan.so.1 is missing costs a second and a warning.
    return {
      ok: false,
      reason: 'no Vulkan loader (libvulkan.so.1 not found)',
      hint: 'install the GPU driver with its Vulkan ICD and the loader (Debian: libvulkan1); README "Backends and GPU"',
      notes,
    };
  }
  if (!loadDawn()) {
    probed = {
      ok: false,
      reason: dawnError,
      hint: 'run `npm install` in the project folder (webgpu and @tensorflow/tfjs-backend-webgpu are optional dependencies)',
      notes,
    };
    return probed;
  }
  try {
    require.resolve('@tensorflow/tfjs-backend-webgpu');
  } catch {
    probed = { ok: false, reason: '@tensorflow/tfjs-backend-webgpu is not installed', hint: 'run `npm install` in the project folder', notes };
    return probed;
  }
  let software: { adapter: GPUAdapterLike; gpu: any; report: AdapterReport } | undefined;
  const attempts: [string, 'core' | 'compatibility'][] = [];
  if (process.platform !== 'linux' || vulkanLoaderPresent()) attempts.push([nativeApi(), 'core']);
  else notes.push('no Vulkan loader (libvulkan.so.1 not found)');
  if (!opts.nativeOnly) attempts.push(['opengl', 'compatibility']);
  for (const [api, level] of attempts) {
    if (api === 'opengl' && !process.env.EGL_PLATFORM && process.platform === 'linux') {
      // Without a display, Mesa's EGL needs the surfaceless platform (else eglInitialize fails).
      process.env.EGL_PLATFORM = 'surfaceless';
    }
    const { adapter, gpu } = await requestAdapter(api, level);
    if (!adapter) {
      notes.push(`no ${API_NAMES[api] ?? api} adapter`);
      continue;
    }
    const report = describe(adapter, api, level);
    if (report.type === 'hardware') {
      chosen = { adapter, gpu, report };
      probed = { ok: true, adapter: report, notes };
      return probed;
    }
    software ??= { adapter, gpu, report };
    notes.push(`software adapter ${report.device || report.description} via ${report.api}`);
  }
  if (software && allowSoftware) {
    chosen = software;
    probed = { ok: true, adapter: software.report, notes };
    return probed;
  }
  probed = {
    ok: false,
    reason: software
      ? `only a software adapter (${software.report.device || software.report.description}, a CPU rasteriser) was found`
      : `no adapter (${notes.join('; ')})`,
    hint: software
      ? 'it is for tests (METAANCHOR_WEBGPU_SOFTWARE=1); for speed use a GPU: README "Backends and GPU"'
      : process.platform === 'linux'
        ? 'install the GPU driver and its Vulkan ICD plus the loader (Debian: libvulkan1; NVIDIA: the driver\'s Vulkan ICD, and in containers NVIDIA_DRIVER_CAPABILITIES must include graphics); README "Backends and GPU"'
        : 'update the GPU driver; README "Backends and GPU"',
    notes,
  };
  return probed;
}

/** The adapter the webgpu backend runs on, once `activateWebGPU` succeeded. */
export function webgpuAdapter(): AdapterReport | undefined {
  return tf.getBackend() === 'webgpu' ? chosen?.report : undefined;
}

/**
 * Register tfjs' 'webgpu' backend on the probed adapter and make it current. Returns the probe
 * (ok=false with the reason when it could not).
 */
export async function activateWebGPU(allowSoftware = softwareAdapterAllowed(), opts: { nativeOnly?: boolean } = {}): Promise<WebGPUProbe> {
  const probe = await probeWebGPU(allowSoftware, opts);
  if (!probe.ok || !chosen) return probe;
  const { adapter, gpu } = chosen;
  // Loaded before navigator.gpu exists, so the package does not register its own factory (which
  // would request the default adapter and only six limits).
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu');
  // WebGPUBackend's constructor checks navigator.gpu (Node 20 has no navigator; Node 21+ has one
  // without gpu).
  const g = globalThis as any;
  if (typeof g.navigator === 'undefined') {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (!g.navigator.gpu) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  if (!registered) {
    registered = true;
    // In Node, readSync would reach for an OffscreenCanvas ("OffscreenCanvas is not defined"); say
    // what to do instead. Values already read asynchronously are cached and still returned.
    const proto = WebGPUBackend.prototype as any;
    const readSync = proto.readSync;
    proto.readSync = function (this: any, dataId: object) {
      const d = this.tensorMap.get(dataId);
      if (d && d.values == null && d.dtype !== 'string' && d.dtype !== 'complex64' && typeof (globalThis as any).OffscreenCanvas === 'undefined') {
        throw new Error(
          'webgpu cannot read a tensor synchronously in Node (dataSync/arraySync/bufferSync, or an op that reads its input on the CPU); ' +
            'await tensor.data() first (lib/backend/read.ts: prefetch)',
        );
      }
      return readSync.call(this, dataId);
    };
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend(
      'webgpu',
      async () => {
        const requiredLimits: Record<string, number> = {};
        for (const k in adapter.limits) {
          const v = adapter.limits[k];
          if (typeof v === 'number') requiredLimits[k] = v;
        }
        const requiredFeatures = ['timestamp-query', 'shader-f16'].filter((f) => adapter.features.has(f));
        const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
        device.onuncapturederror = (ev: { error?: { message?: string } }) => {
          const msg = String(ev?.error?.message ?? ev).split('\n')[0];
          deviceErrors.push(msg);
          if (deviceErrors.length === 1) process.stderr.write(`webgpu: device error: ${msg}\n`);
        };
        device.lost?.then((info: { message?: string }) => {
          if (info?.message && !/destroy/i.test(info.message)) process.stderr.write(`webgpu: device lost: ${info.message}\n`);
        });
        return new WebGPUBackend(device, adapter.info);
      },
      1,
    );
  }
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (err) {
    return { ...probe, ok: false, reason: `the webgpu backend failed to initialise: ${String((err as Error)?.message ?? err).split('\n')[0]}` };
  }
  if (!ok) return { ...probe, ok: false, reason: 'the webgpu backend failed to initialise (see the error printed above)' };
  registerWebGPUKernelFixes();
  return probe;
}
