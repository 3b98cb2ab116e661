"""Drive the project's tslab kernel as Jupyter does, for test/notebook/kernel.test.ts.

    JUPYTER_PATH=<repo> /usr/bin/python3 test/notebook/kernel_driver.py <cwd> <cells.json>

cells.json is a list of {"source": str, "interruptWhen": regex (optional)}. Each cell is executed in
turn; a cell with "interruptWhen" gets a kernel interrupt (jupyter_client's interrupt_kernel: SIGINT to
the kernel's process group, as the notebook server sends it) once its output matches the regex.
Prints one JSON line: per cell, its reply status and its outputs (stream text by name, the last HTML).
"""

import json
import os
import re
import sys
import time

from jupyter_client.manager import start_new_kernel


def main():
    cwd, cells_file = sys.argv[1], sys.argv[2]
    with open(cells_file, encoding="utf-8") as f:
        cells = json.load(f)
    km, kc = start_new_kernel(kernel_name="tslab", cwd=cwd, startup_timeout=120)
    results = []
    try:
        for cell in cells:
            # tslab aborts what arrives within 200 ms of a failed cell (its queue reset).
            time.sleep(0.3)
            msg_id = kc.execute(cell["source"])
            pattern = re.compile(cell["interruptWhen"]) if cell.get("interruptWhen") else None
            out = {"stdout": "", "stderr": "", "html": "", "status": None, "interruptedAfter": None}
            started = time.monotonic()
            idle = False
            while not idle:
                try:
                    msg = kc.get_iopub_msg(timeout=300)
                except Exception:
                    out["status"] = "timeout"
                    break
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if os.environ.get("KERNEL_DRIVER_DEBUG"): print(kind, json.dumps(msg["content"])[:300], file=sys.stderr, flush=True)
                content = msg["content"]
                if kind == "stream":
                    out[content["name"]] += content["text"]
                elif kind in ("display_data", "update_display_data", "execute_result"):
                    out["html"] = content.get("data", {}).get("text/html", out["html"])
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                if pattern and out["interruptedAfter"] is None and pattern.search(out["stdout"] + out["html"]):
                    out["interruptedAfter"] = round(time.monotonic() - started, 1)
                    km.interrupt_kernel()
            if out["status"] is None:
                while True:
                    reply = kc.get_shell_msg(timeout=60)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                out["status"] = reply["content"]["status"]
            results.append(out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
