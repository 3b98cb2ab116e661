// Workarounds for tslab 1.0.22, installed by launch.js before the kernel starts: three bugs, and the
// time a cell that imports the library takes before it shows anything. All are exercised by
// test/notebook/runner.test.ts; re-check them when tslab is upgraded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/**
 * tslab type-checks `import ... from './lib/backend'` (TypeScript resolves the folder to index.ts), but
 * at run time its require hook only tries '<id>.js' among the files it compiled, so every folder import
 * (in a notebook or inside lib) fails with MODULE_NOT_FOUND. When Node cannot find a relative module and
 * '<id>/index.ts' exists, retry as '<id>/index' through tslab's own require, which serves the compiled
 * file. A module tslab compiled carries its hooked `require` as an own property; the cells' root module
 * does not, and tslab exposes its hook as globalThis.__tslab__.require.
 */
function supportDirectoryImports(projectRoot) {
  const Module = require('node:module');
  const nodeRequire = Module.prototype.require;
  Module.prototype.require = function requireWithFolderIndex(id) {
    try {
      return nodeRequire.call(this, id);
    } catch (err) {
      if (!err || err.code !== 'MODULE_NOT_FOUND' || typeof id !== 'string' || !/^\.\.?(\/|$)/.test(id)) throw err;
      const base = this.filename ? path.dirname(this.filename) : projectRoot;
      const folder = path.resolve(base, id);
      const inProject = folder.startsWith(projectRoot + path.sep) && !folder.split(path.sep).includes('node_modules');
      if (!inProject || !fs.existsSync(path.join(folder, 'index.ts'))) throw err;
      const hooked = Object.prototype.hasOwnProperty.call(this, 'require')
        ? this.require
        : globalThis.__tslab__ && globalThis.__tslab__.require;
      if (typeof hooked !== 'function') throw err;
      return hooked.call(this, id.replace(/\/$/, '') + '/index');
    }
  };
}

/**
 * tslab drives TypeScript's watch compiler with a fake timer that holds ONE pending callback and
 * throws "Unexpected pending rebuildTimer" when a second one is requested. TypeScript also schedules
 * a timer to re-resolve failed module lookups when a file appears in a watched folder (every folder
 * import probes '<dir>.ts' first), so creating a file under lib/ while a kernel runs broke every
 * later cell until a restart. tslab installs its timer by assignment on an object created with
 * Object.create(ts.sys); an accessor on ts.sys catches that assignment, keeps tslab's timer for
 * program updates (which tslab fires itself) and gives every other TypeScript timer a real one.
 */
function fixWatchTimers(ts) {
  const PROGRAM_UPDATE = 'updateProgramWithWatchStatus'; // the callback tslab expects (TypeScript 5.0)
  const assigned = new WeakMap(); // converter's sys object -> { setTimeout, clearTimeout } set by tslab
  const realTimers = new Set();
  const original = { setTimeout: ts.sys.setTimeout, clearTimeout: ts.sys.clearTimeout };
  const slot = (sys) => {
    if (!assigned.has(sys)) assigned.set(sys, {});
    return assigned.get(sys);
  };
  Object.defineProperty(ts.sys, 'setTimeout', {
    configurable: true,
    enumerable: true,
    get() {
      const tslabSet = assigned.get(this) && assigned.get(this).setTimeout;
      if (!tslabSet) return original.setTimeout;
      return (callback, ms, ...args) => {
        if (callback && callback.name === PROGRAM_UPDATE) return tslabSet(callback, ms, ...args);
        const timer = setTimeout(() => {
          realTimers.delete(timer);
          callback(...args);
        }, ms);
        realTimers.add(timer);
        return timer;
      };
    },
    set(fn) {
      slot(this).setTimeout = fn;
    },
  });
  Object.defineProperty(ts.sys, 'clearTimeout', {
    configurable: true,
    enumerable: true,
    get() {
      const tslabClear = assigned.get(this) && assigned.get(this).clearTimeout;
      if (!tslabClear) return original.clearTimeout;
      return (timer) => {
        if (realTimers.delete(timer)) clearTimeout(timer);
        else tslabClear(timer);
      };
    },
    set(fn) {
      slot(this).clearTimeout = fn;
    },
  });
}

/**
 * tslab rewrites a reference to a variable of an earlier cell `x` into `exports.x`, but not inside
 * a shorthand property: `showTable([{ name, value }])` threw "ReferenceError: value is not defined"
 * when `value` came from an earlier cell. Its rewriting function (wrapPrevIdentifier in
 * dist/converter.js) gets one more case, patched into the source as it loads: a shorthand property
 * whose value symbol is declared by an earlier cell becomes `name: exports.name`.
 */
const SHORTHAND_ANCHOR = '        function wrapPrevIdentifier(node) {\n            var _a, _b;\n';
const SHORTHAND_CASE = `            if (ts.isShorthandPropertyAssignment(node)) {
                const valueSymbol = checker.getShorthandAssignmentValueSymbol(node);
                const fromPrevCell = ((valueSymbol && valueSymbol.declarations) || []).some((d) => d.getSourceFile() === declsFile);
                if (!fromPrevCell) {
                    return node;
                }
                return ts.factory.createPropertyAssignment(node.name.text, ts.factory.createPropertyAccessExpression(ts.factory.createIdentifier("exports"), node.name.text));
            }
`;

/**
 * A cell that imports the library used to show nothing for 10-15 s: tslab type-checked every library
 * file the cell reaches and emitted each with declarations (the checker's full work) before running
 * anything. Two changes (docs/DESIGN.md section 5):
 *  - the library's files are transpiled file by file with esbuild (as tsx runs them for the CLI)
 *    and only the cell itself is type-checked; the library is type-checked by `npm run
 *    typecheck`, so an error inside lib/ shows up there, not in a notebook;
 *  - before compiling a cell that imports project files not loaded yet, the kernel prints one line
 *    saying so, and lets it reach the page before the compiler blocks the process.
 */
const DEPENDENCY_DIAGNOSTICS = 'const diag = convertDiagnostics(getPreEmitDiagnosticsWithDependencies(builder, srcFile));';
const CELL_DIAGNOSTICS = 'const diag = convertDiagnostics(ts.getPreEmitDiagnostics(builder.getProgram(), srcFile));';
const DEPENDENCY_EMIT = `            if (dep !== srcFilename) {
                sideInputsConverted.add(dep);
            }
`;
const DEPENDENCY_TRANSPILE = `            if (dep !== srcFilename) {
                sideInputsConverted.add(dep);
                if (dep.endsWith(".ts")) {
                    if (!sideOutputs) {
                        sideOutputs = [];
                    }
                    const text = builder.getSourceFile(dep).text;
                    sideOutputs.push({ path: dep.slice(0, -3) + ".js", data: globalThis[Symbol.for("metaanchor.kernel.transpile")](dep, text) });
                    continue;
                }
            }
`;

/** TypeScript to CommonJS with esbuild, file by file: what tsx does when the CLI loads the library. */
function installTranspiler(projectRoot) {
  const main = require.resolve('esbuild', { paths: [path.dirname(require.resolve('tsx/package.json', { paths: [projectRoot] }))] });
  let esbuild = require(main);
  const options = (file) => ({ loader: 'ts', format: 'cjs', target: 'es2020', sourcefile: file });
  globalThis[Symbol.for('metaanchor.kernel.transpile')] = (file, text) => {
    try {
      return esbuild.transformSync(text, options(file)).code;
    } catch (err) {
      // esbuild's service process is in the kernel's process group, so a kernel interrupt (SIGINT
      // to the group) ends it, and every later import failed with "The service is no longer
      // running". Load esbuild afresh (a new service) and try once more.
      if (!/service (is no longer running|was stopped)/i.test(String(err && err.message))) throw err;
      for (const key of Object.keys(require.cache)) if (key.startsWith(path.dirname(main))) delete require.cache[key];
      esbuild = require(main);
      return esbuild.transformSync(text, options(file)).code;
    }
  };
}

const BEFORE_CONVERT = '        const converted = convs.node.convert(prevDecl, src);\n';
const ANNOUNCED_CONVERT = '        await globalThis[Symbol.for("metaanchor.kernel.beforeCompile")](src, console);\n' + BEFORE_CONVERT;

/** Relative imports of a cell ("./lib/experiments"), in order, without repeats. */
function relativeImports(src) {
  const found = [];
  for (const m of src.matchAll(/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]|\brequire\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] || m[2];
    if (!found.includes(spec)) found.push(spec);
  }
  return found;
}

/** The note printed before compiling a cell that loads project modules for the first time. */
function installCompileNote() {
  const loaded = new Set();
  globalThis[Symbol.for('metaanchor.kernel.beforeCompile')] = async (src, out) => {
    // The running cell's source: its status line names it (lib/notebook/status.ts), so that a page
    // opened while it runs finds the cell (scripts/notebook-custom/custom.js).
    globalThis[Symbol.for('metaanchor.kernel.cellSource')] = src;
    const fresh = relativeImports(src).filter((spec) => !loaded.has(spec));
    if (fresh.length === 0) return;
    fresh.forEach((spec) => loaded.add(spec));
    const first = loaded.size === fresh.length;
    out.log(`Loading ${fresh.join(', ')}${first ? ' (first import in this kernel: compiling the library, a few seconds)' : ''} ...`);
    // The compiler blocks the event loop: let the line reach the page first.
    await new Promise((resolve) => setTimeout(resolve, 50));
  };
}

/**
 * How a failed cell reads. tslab printed the thrown value with console.error: the compiled cell's
 * source line and caret, tslab's and Node's frames, and a UserError's hint last as a raw object
 * ("{ hint: '...' }"); an interrupted cell printed "Error: Interrupted asynchronously" with tslab's
 * stack, while its training went on in the background. Now:
 *  - a library error (lib/util/errors.ts UserError, or anything with a string `hint`) is its two
 *    lines, "error: <message>" and "hint: <hint>", as the CLI prints it;
 *  - an interrupt during work that stops by itself (training: lib/util/interrupt.ts registers how
 *    long it may take) waits for that work to stop and shows its own message ("interrupted: ...
 *    at step N ... checkpoint kept" and how to continue); any other interrupt is one line;
 *  - any other error keeps its stack without tslab's, Node's and the compiled cell's frames.
 */
const CELL_FAILED = Symbol.for('metaanchor.kernel.cellFailed');
const GRACE = Symbol.for('metaanchor.interrupt.graceMs');
const HIDDEN_FRAME = /node:internal|node:vm|[\\/]node_modules[\\/]tslab[\\/]|[\\/]kernels[\\/]tslab[\\/]|^\s*at (?:new )?Promise \(<anonymous>\)$|^\s*at <anonymous>$/;
const CELL_FRAME = /evalmachine\.<anonymous>/;

function isLibraryError(err) {
  return err instanceof Error && (err.name === 'UserError' || err.name === 'Interrupted' || typeof err.hint === 'string');
}

function trimmedStack(err) {
  const header = err.message ? `${err.name}: ${err.message}` : String(err.name);
  let stack = typeof err.stack === 'string' && err.stack ? err.stack : header;
  // Node puts the compiled cell's line and a caret before the stack of an error thrown by vm code.
  const start = stack.indexOf(header);
  if (start > 0) stack = stack.slice(start);
  const out = [];
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) {
      out.push(line);
      continue;
    }
    if (HIDDEN_FRAME.test(line)) continue;
    // The cell's own frames point into tslab's compiled JavaScript: name the function, not the line.
    const cell = CELL_FRAME.test(line) ? line.replace(/\(?evalmachine\.<anonymous>:\d+:\d+\)?/, '(this cell)').replace(/^(\s+at )\(this cell\)$/, '$1this cell') : line;
    if (cell !== out[out.length - 1]) out.push(cell);
  }
  return out.join('\n');
}

function formatCellError(err, interrupted) {
  if (interrupted) return 'interrupted: the cell was stopped (kernel interrupt)';
  if (isLibraryError(err)) {
    const prefix = err.name === 'Interrupted' ? 'interrupted' : 'error';
    return `${prefix}: ${err.message}` + (typeof err.hint === 'string' && err.hint ? `\nhint: ${err.hint}` : '');
  }
  if (err instanceof Error) return trimmedStack(err);
  return `error: ${typeof err === 'string' ? err : require('node:util').inspect(err)}`;
}

/** Interrupts of synchronous code (vm's breakOnSigint) throw this. */
const SYNC_INTERRUPT = /^Script execution was interrupted by `SIGINT`/;

/**
 * SIGINT listeners for the library (lib/util/interrupt.ts), registered here at kernel start. A
 * listener that a cell adds itself, while tslab runs the cell's synchronous part with vm's
 * breakOnSigint, leaves SIGINT at its default action once that part ends (Node 20): the next
 * interrupt killed the kernel. The library adds its callbacks to this set instead.
 */
const SIGINT_CALLBACKS = Symbol.for('metaanchor.kernel.sigintCallbacks');

function installSigintCallbacks() {
  const callbacks = new Set();
  globalThis[SIGINT_CALLBACKS] = callbacks;
  process.on('SIGINT', () => {
    for (const f of [...callbacks]) f();
  });
}

function installCellErrors() {
  globalThis[CELL_FAILED] = async (err, interrupted, pending, out) => {
    interrupted = interrupted || (err instanceof Error && SYNC_INTERRUPT.test(err.message));
    const grace = typeof globalThis[GRACE] === 'function' ? globalThis[GRACE]() : 0;
    if (interrupted && pending && grace > 0) {
      let timer;
      const outcome = await Promise.race([
        pending.then(
          () => ({ ok: true }),
          (error) => ({ error }),
        ),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(null), grace);
        }),
      ]);
      clearTimeout(timer);
      if (outcome && 'error' in outcome) {
        err = outcome.error;
        interrupted = false;
      }
    }
    out.error(formatCellError(err, interrupted));
    return false;
  };
}

const SYNC_CATCH = `        catch (e) {
            console.error(e);
            return false;
        }
        if (promise) {`;
const SYNC_CATCH_FORMATTED = `        catch (e) {
            return await globalThis[Symbol.for("metaanchor.kernel.cellFailed")](e, false, null, console);
        }
        if (promise) {`;
const ASYNC_CATCH = `                await Promise.race([promise, interruptPromise]);
            }
            catch (e) {
                console.error(e);
                return false;
            }`;
const ASYNC_CATCH_FORMATTED = `                await Promise.race([promise, interruptPromise]);
            }
            catch (e) {
                return await globalThis[Symbol.for("metaanchor.kernel.cellFailed")](e, e === interrupted, promise, console);
            }`;

/**
 * Patch tslab's own files as they load: each entry is [file in tslab/dist, [[anchor, replacement]]].
 * A file whose anchors changed (another tslab) loads unpatched, with a note on stderr.
 */
function patchTslabSources(tslabMain, patches) {
  const Module = require('node:module');
  const loadJs = Module._extensions['.js'];
  // Node passes the real path (node_modules may be a symbolic link).
  const dist = fs.realpathSync(path.dirname(tslabMain));
  const byFile = new Map(patches.map(([file, edits]) => [path.join(dist, file), edits]));
  Module._extensions['.js'] = function loadPatchedTslab(module, filename) {
    const edits = byFile.get(filename);
    if (!edits) return loadJs(module, filename);
    let source = fs.readFileSync(filename, 'utf8');
    for (const [anchor, replacement, what] of edits) {
      if (!source.includes(anchor)) {
        process.stderr.write(`tslab kernel: tslab/dist/${path.basename(filename)} changed; ${what} not applied\n`);
        continue;
      }
      source = source.replace(anchor, replacement);
    }
    module._compile(source, filename);
  };
}

/** Install the fixes for the tslab whose dist/main.js is `tslabMain` (before it is loaded). */
function installFixes(projectRoot, tslabMain) {
  supportDirectoryImports(projectRoot);
  installCompileNote();
  installCellErrors();
  installSigintCallbacks();
  installTranspiler(projectRoot);
  patchTslabSources(tslabMain, [
    ['converter.js', [
      [SHORTHAND_ANCHOR, SHORTHAND_ANCHOR + SHORTHAND_CASE, 'shorthand-property fix'],
      [DEPENDENCY_DIAGNOSTICS, CELL_DIAGNOSTICS, 'cell-only type check'],
      [DEPENDENCY_EMIT, DEPENDENCY_TRANSPILE, 'library transpile'],
    ]],
    ['executor.js', [
      [BEFORE_CONVERT, ANNOUNCED_CONVERT, 'compile note'],
      [SYNC_CATCH, SYNC_CATCH_FORMATTED, 'cell error format'],
      [ASYNC_CATCH, ASYNC_CATCH_FORMATTED, 'cell error format and interrupt'],
    ]],
  ]);
  const tsPath = require.resolve('@tslab/typescript-for-tslab', { paths: [path.dirname(tslabMain)] });
  const ts = require(tsPath);
  // The timer fix depends on TypeScript internals (the callback's name); apply it only to the
  // version it was written and tested for.
  if (/^5\.0\./.test(ts.version)) fixWatchTimers(ts);
  else process.stderr.write(`tslab kernel: TypeScript ${ts.version} (not 5.0.x): watch-timer fix not applied\n`);
}

module.exports = { installFixes, supportDirectoryImports, fixWatchTimers, relativeImports, formatCellError };
