"""Headless notebook runner: executes notebooks cell by cell and writes the executed .ipynb + .html.

Called by `node scripts/notebook.js run` (npm run notebooks) with Debian's /usr/bin/python3, where
apt installed nbclient/nbformat/nbconvert (docs/DESIGN.md section 5). Not meant to be run by hand, but it
works on its own:

    JUPYTER_PATH=<repo> /usr/bin/python3 scripts/run_notebooks.py --out-dir outputs notebooks/00_quickstart.ipynb

Why not `jupyter nbconvert --execute`: tslab reports a failing cell only as stderr text and an
execute_reply with status "error" (no `error` output, no ename/evalue), so nbconvert exits 1 without
saying which cell failed or why. This runner executes one cell at a time, decides failure from the
reply status and from tslab's uncaught-error stderr markers, and names the notebook, the cell and the
error text.

Exit status: 0 all notebooks passed, 1 a notebook failed (the message names it), 2 bad arguments.
"""

import argparse
import asyncio
import contextvars
import html as html_lib
import os
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async
from nbformat.sign import NotebookNotary

# tslab's process-wide handlers print these for errors thrown outside a cell's own promise chain
# (a timer callback, an un-awaited rejected promise); the cell itself then reports "ok".
UNCAUGHT_MARKERS = ("UncaughtException:", "UnhandledPromiseRejection:")

# A stderr line that states an error: "Error: boom", "TypeError: x is not a function",
# "UserError: unknown backend", "RangeError: offset is out of bounds", or a TypeScript diagnostic
# "2:17 - Type 'string' is not assignable to type 'number'." as tslab prints them.
ERROR_LINE = re.compile(r"^(?:Uncaught\w*:\s*)?(?:[A-Za-z_$][\w$]*)?(?:Error|Exception)\b.*|^(?:\S+ )?\d+:\d+ - .+")

HEARTBEAT_S = 30.0

UMASK = os.umask(0)
os.umask(UMASK)


# With --jobs > 1 several notebooks run at once: each line names its notebook.
LOG_PREFIX = contextvars.ContextVar("log_prefix", default="")


def log(message):
    prefix = LOG_PREFIX.get()
    if prefix:
        message = "\n".join(prefix + line if line.strip() else line for line in message.split("\n"))
    print(message, file=sys.stderr, flush=True)


def first_line(source, width=70):
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= width else line[: width - 3] + "..."
    return "(empty)"


def stderr_text(cell):
    return "".join(
        out.get("text", "")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    )


def summarize_error(text, max_lines=12):
    """The lines of a stderr error that say what went wrong: the error line first, few stack frames."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    start = next((i for i, line in enumerate(lines) if ERROR_LINE.match(line.strip())), 0)
    picked = []
    frames = 0
    for line in lines[start:]:
        if line.lstrip().startswith("at "):
            frames += 1
            if frames > 3:
                continue
        picked.append(line)
        if len(picked) >= max_lines:
            break
    return "\n".join(picked)


def cell_failure(cell, reply):
    """Error text if this executed cell failed, else None.

    A thrown error or a type error makes tslab reply status "error" and print the error (or the
    TypeScript diagnostics) to stderr. Other kernels send an `error` output with ename/evalue. An
    error thrown later by a callback shows only as one of UNCAUGHT_MARKERS on stderr.
    """
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return "{}: {}".format(out.get("ename", "Error"), out.get("evalue", ""))
    err = stderr_text(cell)
    content = (reply or {}).get("content", {})
    status = content.get("status")
    if status == "error":
        if content.get("ename"):
            return "{}: {}".format(content["ename"], content.get("evalue", ""))
        return summarize_error(err) or "the kernel reported an error but printed nothing"
    if status == "aborted" or status == "abort":
        return "the kernel aborted the cell"
    for marker in UNCAUGHT_MARKERS:
        index = err.find(marker)
        if index >= 0:
            return summarize_error(err[index:])
    return None


def write_atomic(path, data):
    """Write text to path via a temporary file in the same folder and a rename, so that a reader
    never sees half a file and an interrupted run leaves the previous file intact."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


PLOTLY_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "plotly.js-dist-min", "plotly.min.js")


def with_plotly(html):
    """The exported page with plotly.js inlined once in its <head> when it has figures: figure outputs
    hold only their data (lib/notebook/plotly.ts), so the page opens offline and draws them."""
    if 'class="metaanchor-plot"' not in html:
        return html
    with open(PLOTLY_BUNDLE, encoding="utf-8") as f:
        bundle = f.read().replace("</script", "<\\/script")
    script = '<script type="text/javascript">' + bundle + "</script>\n"
    head_end = html.find("</head>")
    return html[:head_end] + script + html[head_end:] if head_end >= 0 else script + html


def export(nb, stem, out_dir):
    """Sign, then write <stem>.ipynb and <stem>.html. Signing marks the outputs as produced by this
    user, so Jupyter Notebook trusts them and runs their scripts (plots) when the notebook is opened."""
    from nbconvert import HTMLExporter

    NotebookNotary().sign(nb)
    ipynb_path = os.path.join(out_dir, stem + ".ipynb")
    html_path = os.path.join(out_dir, stem + ".html")
    write_atomic(ipynb_path, nbformat.writes(nb))
    html, _ = HTMLExporter().from_notebook_node(nb)
    write_atomic(html_path, with_plotly(html))
    return ipynb_path, html_path


class CellFailed(Exception):
    def __init__(self, index, total, source, error):
        super().__init__(error)
        self.index = index
        self.total = total
        self.source = source
        self.error = error


STATUS_HTML = re.compile(r'<pre class="metaanchor-status"[^>]*>(.*?)</pre>', re.S)


def last_stream_line(cell):
    """The cell's latest status so far (nbclient updates outputs while the cell runs): a printed line,
    or the in-place status line of lib/notebook/status.ts."""
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "stream":
            lines = [l for l in "".join(out.get("text", "")).splitlines() if l.strip()]
            if lines:
                return lines[-1].strip()
        if out.get("output_type") == "display_data":
            m = STATUS_HTML.search("".join(out.get("data", {}).get("text/html", "")))
            if m:
                return html_lib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
    return ""


async def heartbeat(label, started, cell=None):
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        latest = last_stream_line(cell) if cell is not None else ""
        log("    {} still running, {:.0f} s{}".format(label, time.monotonic() - started, ("  | " + latest[:160]) if latest else ""))


async def execute_notebook(nb, nb_dir, kernel_name, timeout_s):
    replies = {}

    def on_cell_executed(cell, cell_index, execute_reply):
        replies[cell_index] = execute_reply

    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=timeout_s,
        startup_timeout=120,
        allow_errors=True,  # failures are decided by cell_failure(), which understands tslab
        record_timing=True,
        shutdown_kernel="immediate",
        on_cell_executed=on_cell_executed,
        # The kernel starts in the notebook's folder; the tslab launcher walks up to the project.
        resources={"metadata": {"path": nb_dir}},
    )
    client.reset_execution_trackers()
    total = len(nb.cells)
    code_total = sum(1 for c in nb.cells if c.cell_type == "code")
    kernel_started = time.monotonic()
    async with client.async_setup_kernel():
        log("  kernel {} ready in {:.1f} s".format(kernel_name, time.monotonic() - kernel_started))
        msg_id = await ensure_async(client.kc.kernel_info())
        info = await client.async_wait_for_reply(msg_id)
        if info is not None and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        done = 0
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            done += 1
            label = "cell {}/{}".format(index + 1, total)
            started = time.monotonic()
            ticker = asyncio.ensure_future(heartbeat(label, started, cell))
            error = None
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                error = cell_failure(cell, replies.get(index))
            except CellTimeoutError:
                error = "no result after {} s (per-cell timeout; raise it with --timeout)".format(timeout_s)
            except DeadKernelError as e:
                error = "the kernel died: {}".format(e)
            finally:
                ticker.cancel()
            elapsed = time.monotonic() - started
            if error is not None:
                log("  {} [{}/{} code]  FAILED after {:.1f} s  `{}`".format(label, done, code_total, elapsed, first_line(cell.source)))
                raise CellFailed(index, total, cell.source, error)
            log("  {} [{}/{} code]  {:.1f} s  `{}`".format(label, done, code_total, elapsed, first_line(cell.source)))
        client.set_widgets_metadata()
    return nb


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", help=".ipynb files to execute, in order")
    ap.add_argument("--out-dir", required=True, help="where <name>.ipynb and <name>.html are written")
    ap.add_argument("--timeout", type=float, default=600, help="per-cell timeout in seconds; 0 = none")
    ap.add_argument("--kernel", default=None, help="kernel name (default: the notebook's kernelspec, else tslab)")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at once, each in its own kernel (default 1)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be >= 1")

    timeout_s = None if args.timeout <= 0 else int(args.timeout)
    os.makedirs(args.out_dir, exist_ok=True)
    profile = os.environ.get("METAANCHOR_PROFILE", "quick")
    run_started = time.monotonic()
    failed = asyncio.run(run_all(args.notebooks, args.out_dir, args.kernel, timeout_s, args.jobs, profile))
    total = time.monotonic() - run_started
    if failed:
        # Every notebook runs even when an earlier one failed, so one run names all broken notebooks.
        log("{} of {} notebook(s) FAILED in {:.1f} s: {}".format(len(failed), len(args.notebooks), total, ", ".join(failed)))
        return 1
    log("all {} notebook(s) passed in {:.1f} s".format(len(args.notebooks), total))
    return 0


async def run_all(paths, out_dir, kernel_option, timeout_s, jobs, profile):
    """Run every notebook, `jobs` at a time, in the given order; returns the failed ones (in order).
    Notebooks that share runs wait for each other's run locks (lib/experiments/parallel.ts)."""
    slots = asyncio.Semaphore(jobs)
    failed = {}

    async def one(i, path):
        async with slots:
            if jobs > 1:
                LOG_PREFIX.set("[{}] ".format(os.path.splitext(os.path.basename(path))[0]))
            log("[{}/{}] {}  (profile {})".format(i + 1, len(paths), path, profile))
            started = time.monotonic()
            message = await run_one(path, out_dir, kernel_option, timeout_s)
            if message is None:
                log("  ok in {:.1f} s".format(time.monotonic() - started))
            else:
                log("\n" + message + "\n")
                failed[i] = path

    # Each task gets its own copy of the context (its log prefix).
    await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
    return [failed[i] for i in sorted(failed)]


async def run_one(path, out_dir, kernel_option, timeout_s):
    """Execute one notebook and write its outputs. Returns None on success, else the failure message."""
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # unreadable, invalid JSON or not a notebook
        return "notebook FAILED: {}\n  cannot read it: {}".format(path, e)
    kernel = kernel_option or nb.metadata.get("kernelspec", {}).get("name") or "tslab"
    failure = None
    try:
        await execute_notebook(nb, os.path.dirname(os.path.abspath(path)), kernel, timeout_s)
    except CellFailed as e:
        failure = e
    except Exception as e:  # the kernel did not start, zmq trouble, ...
        failure = CellFailed(None, len(nb.cells), "", "{}: {}".format(type(e).__name__, e))
    # A failed notebook is written too, up to the failing cell: it shows that cell and its output.
    export_started = time.monotonic()
    ipynb_path, html_path = export(nb, stem, out_dir)
    if failure is None:
        log("  wrote {} and {} in {:.1f} s".format(ipynb_path, html_path, time.monotonic() - export_started))
        return None
    where = (
        "cell {}/{} (index {}): {}".format(failure.index + 1, failure.total, failure.index, first_line(failure.source, 100))
        if failure.index is not None
        else "before the first cell (kernel {})".format(kernel)
    )
    return "notebook FAILED: {}\n  at {}\n  error:\n{}\n  executed notebook (up to the failure): {}".format(
        path, where, "\n".join("    " + line for line in failure.error.splitlines()), ipynb_path
    )

if __name__ == "__main__":
    sys.exit(main())
