"""Drive a real JupyterLab from headless Chromium (Playwright): start a server on
127.0.0.1 over a copy of the chapter notebooks, open a notebook, run all, move an
explorer's slider with the keyboard and time the repaint.

Shared by tests/test_live_jupyterlab.py and benchmarks/live_latency_jupyterlab.py.
Nothing here reaches the network: the browser aborts every request that is not to
127.0.0.1, and the server is started with no browser, a random token and a free port.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from browser_helpers import CHROMIUM, CHROMIUM_ARGS

from lm_sims import compilation_cache

REPO = Path(__file__).resolve().parents[1]

# The explorer's VBox: a slider and a plotly figure inside an ipywidgets Output.
EXPLORER = ".widget-vbox:has(.widget-output .js-plotly-plot):has(.widget-slider)"
HANDLE = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, log: Path):
    """A JupyterLab server over a copy of ``chapters/`` in ``root``; yields
    ``(base_url, token)``. The copy keeps the repository's files untouched by
    autosave; the server, kernels and settings live under ``root``."""
    notebooks = root / "nb"
    for src in sorted((REPO / "chapters").rglob("*.ipynb")):
        dst = notebooks / src.relative_to(REPO / "chapters")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        # the suite's persistent compilation cache, with its bound and lock
        **compilation_cache.environment(),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("LM_SIMS_STATIC", None)  # live mode
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [
        str(jupyter),
        "lab",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers, CI runners
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    url = f"{base}/api/status?token={token}"
                    with urllib.request.urlopen(url, timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"jupyter lab did not start: {log.read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.5)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def browser(playwright, profile: Path):
    """Headless Debian Chromium, a fresh profile; every request not to 127.0.0.1
    (or data:/blob:) is aborted. Returns ``(context, console_errors)``."""
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=list(CHROMIUM_ARGS),
        viewport={"width": 1400, "height": 1200},
    )
    local = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(local) else r.abort(),
    )
    errors: list[str] = []

    def on_console(msg):
        if msg.type == "error":
            errors.append(msg.text)

    context.on("console", on_console)  # every page of the context
    context.on("weberror", lambda e: errors.append(f"page error: {e.error}"))
    return context, errors


_CELL_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.model) { return null; }
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const busy = [...w.node.querySelectorAll('.jp-InputPrompt')]
    .some(e => e.textContent.includes('*'));
  const errors = [];
  let executed = 0, code = 0;
  for (const cell of w.content.model.cells) {
    if (cell.type !== 'code') { continue; }
    code += 1;
    if (cell.executionCount) { executed += 1; }
    for (const o of cell.outputs.toJSON()) {
      if (o.output_type === 'error') { errors.push(o.ename + ': ' + o.evalue); }
    }
  }
  return {busy: busy, status: kernel ? kernel.status : 'none', errors: errors,
          executed: executed, code: code};
}"""


def open_and_run_all(page, base: str, token: str, path: str, timeout_s: float):
    """Open notebook ``path`` (relative to the server root), run all cells and wait
    until none is busy. Returns ``(seconds, state)`` where ``state`` holds the
    error outputs (``ename: evalue``) and the count of executed code cells."""
    # ?reset: a fresh workspace, so no notebook of an earlier page is restored
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")
    page.wait_for_function(
        """path => {
          const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
          const s = w && w.context && w.context.path === path && w.sessionContext;
          const k = s && s.session && s.session.kernel;
          return !!(k && k.connectionStatus === 'connected' && w.content.model);
        }""",
        arg=path,
        timeout=120_000,
    )
    start = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state = None
    while time.monotonic() - start < timeout_s:
        page.wait_for_timeout(1000)
        state = page.evaluate(_CELL_STATE)
        if (
            state
            and not state["busy"]
            and state["status"] == "idle"
            and state["executed"] == state["code"]
        ):
            return time.monotonic() - start, state
        if state and state["errors"]:
            break  # an error stops run-all: no need to wait further
    return time.monotonic() - start, state


# In the page: arm a timer on the explorer's slider handle (the key press, caught by a
# keydown listener, starts it) and resolve once the explorer's Output holds a drawn
# plotly figure whose data differ from the one before the press.
_ARM = """([box, timeoutMs]) => {
  const sig = gd => JSON.stringify((gd.data || []).map(t => [t.x, t.y, t.z]));
  const old = box.querySelector('.widget-output .js-plotly-plot');
  const before = sig(old);
  const handle = box.querySelector('.widget-slider .noUi-handle,'
                                   + ' .widget-slider .ui-slider-handle');
  handle.focus();
  window.__lmCleared = null;
  window.__lmMove = new Promise(resolve => {
    let t0 = null;
    handle.addEventListener('keydown', () => { t0 = performance.now(); },
                            {once: true, capture: true});
    const armed = performance.now();
    // cheap checks while waiting (a new figure element, drawn), so that the
    // measurement does not slow the page down; the data are compared once
    function poll() {
      if (t0 !== null && window.__lmCleared === null && !old.isConnected) {
        window.__lmCleared = performance.now() - t0;  // the new output arrived
      }
      const gd = box.querySelector('.widget-output .js-plotly-plot');
      const drawn = gd && gd !== old && gd._fullLayout &&
        gd.querySelector('.main-svg .trace, .main-svg .hm, .main-svg image');
      if (t0 !== null && drawn) {
        return requestAnimationFrame(() => {
          const ms = performance.now() - t0;
          resolve(sig(gd) !== before ? ms : -1);
        });
      }
      if (performance.now() - armed > timeoutMs) { return resolve(null); }
      setTimeout(poll, 1);
    }
    poll();
  });
  return document.activeElement === handle;
}"""


def explorer_box(page, timeout_ms: int = 60_000):
    """The first explorer on the page that shows a figure and has a slider."""
    box = page.locator(EXPLORER).first
    box.wait_for(timeout=timeout_ms)
    box.scroll_into_view_if_needed()
    return box


def move_and_time(
    page, box, key: str = "ArrowRight", timeout_ms: int = 30_000, parts: list = None
):
    """Focus the explorer's first slider handle and press ``key`` (real keyboard
    input); the seconds from the key press to a repainted figure with new data, or
    ``None`` on timeout. With ``parts``, appends ``(seconds to the old figure's
    removal, i.e. the kernel's new output arriving, seconds to the repaint)``."""
    focused = page.evaluate(_ARM, [box.element_handle(), timeout_ms])
    if not focused:
        raise RuntimeError("the slider handle did not take the keyboard focus")
    page.keyboard.press(key)
    ms = page.evaluate("() => window.__lmMove")
    if ms is not None and ms < 0:
        raise AssertionError("a new figure was drawn but its data did not change")
    if parts is not None and ms is not None:
        cleared = page.evaluate("() => window.__lmCleared")
        parts.append((None if cleared is None else cleared / 1000, ms / 1000))
    return None if ms is None else ms / 1000


def figure_data(box) -> str:
    return box.evaluate(
        "b => JSON.stringify(b.querySelector('.widget-output .js-plotly-plot')"
        ".data.map(t => [t.x, t.y, t.z]))"
    )


def close_notebook(page) -> None:
    """Shut down the current notebook's kernel and close it, without saving."""
    page.evaluate(
        """async () => {
          const w = window.jupyterapp.shell.currentWidget;
          if (w && w.sessionContext) { await w.sessionContext.shutdown(); }
          if (w) { w.context.model.dirty = false; w.dispose(); }
        }"""
    )


def widget_errors(errors: list[str]) -> list[str]:
    """The console errors that concern widgets or figures."""
    words = ("widget", "anywidget", "plotly", "model", "comm")
    return [e for e in errors if any(w in e.lower() for w in words)]


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, Python {sys.version.split()[0]}"
    )


def dump(obj) -> str:
    return json.dumps(obj, indent=1)
