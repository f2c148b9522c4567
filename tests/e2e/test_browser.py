"""The unchanged Vidjil browser against `vidjil-server demo`, in headless Chromium.

Runs only where the pieces are at hand (see tests/e2e/README.md):
VIDJIL_BROWSER_DIR (the browser's folder of the Vidjil repository), Node.js with
playwright-core (VIDJIL_PLAYWRIGHT_NODE_PATH: the node_modules folder holding it) and
Chromium (VIDJIL_CHROMIUM, default /usr/bin/chromium).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BROWSER_DIR = os.environ.get("VIDJIL_BROWSER_DIR")
NODE_PATH = os.environ.get("VIDJIL_PLAYWRIGHT_NODE_PATH")
CHROMIUM = os.environ.get("VIDJIL_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not (BROWSER_DIR and NODE_PATH and shutil.which("node") and os.path.exists(CHROMIUM)),
    reason="needs VIDJIL_BROWSER_DIR, VIDJIL_PLAYWRIGHT_NODE_PATH, node and Chromium (tests/e2e/README.md)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_browser(target: Path, server_url: str) -> None:
    """A copy of the browser whose conf.js points at our server."""
    shutil.copytree(BROWSER_DIR, target, symlinks=True)
    sample = (target / "js" / "conf.js.sample").read_text()
    conf = re.sub(r'"db_address"\s*:\s*"[^"]*"', f'"db_address" : "{server_url}"', sample)
    (target / "js" / "conf.js").write_text(conf)
    germline = target / "js" / "germline.js"
    if not germline.exists():  # made from IMGT downloads in a real install
        systems = os.environ.get("VIDJIL_GERMLINE_G")
        data = Path(systems).read_text() if systems else '{"path": "germline", "systems": {}}'
        germline.write_text(f"germline = {{}};\n\ngermline_data = {data}\n")
    sha = target / "js" / "git-sha1.js"
    if not sha.exists():
        sha.write_text('git_sha1 = "e2e";\n')


def serve_static(folder: Path, port: int) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_browser_flows(tmp_path):
    server_port, static_port = free_port(), free_port()
    server_url = f"http://127.0.0.1:{server_port}/vidjil/"
    prepare_browser(tmp_path / "browser", server_url)
    static = serve_static(tmp_path / "browser", static_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDJIL_")}
    env["VIDJIL_ALLOWED_ORIGINS"] = f"http://127.0.0.1:{static_port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "vidjil_pyramid.cli", "demo", "--port", str(server_port),
         "--data-dir", str(tmp_path / "data"), "--admin-email", "admin@e2e.test", "--admin-password", "E2e-secret-1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(server_url + "default/whoami", 30)
        shots = tmp_path / "shots"
        shots.mkdir()
        run = subprocess.run(
            ["node", str(HERE / "browser_flows.js")], capture_output=True, text=True, timeout=300,
            env={**os.environ, "NODE_PATH": NODE_PATH, "CHROMIUM": CHROMIUM, "SHOTS": str(shots),
                 "BROWSER_URL": f"http://127.0.0.1:{static_port}/index.html",
                 "EMAIL": "admin@e2e.test", "PASSWORD": "E2e-secret-1"})
    finally:
        server.terminate()
        server.wait(timeout=10)
        static.shutdown()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    steps = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("OK ")]
    assert steps[0] == "login" and steps[-1] == "logout" and "compare" in steps
