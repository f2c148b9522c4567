"""Every case of the golden fuse corpus, run through ``fuse_rpc.cli.main``.

The corpus (outputs of the original tools/fuse.py) lives in the shared reference
folder: ``$VIDJIL_SHARED_DIR/golden/fuse`` (default ``<repo>/../shared``).  The
comparison is the corpus's own ``compare.py``: semantic by default, and here also
with key order and raw text, since we reproduce the original's layout.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VIDJIL_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "golden" / "fuse"

if not (CORPUS / "compare.py").is_file():
    pytest.skip(f"golden fuse corpus not found in {CORPUS} (set VIDJIL_SHARED_DIR)", allow_module_level=True)

sys.path.insert(0, str(REPO))
from fuse_rpc.cli import main  # noqa: E402


def _load_compare():
    spec = importlib.util.spec_from_file_location("golden_fuse_compare", CORPUS / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = _load_compare()
CASES = compare.cases_under(str(CORPUS))


class _Options:
    """The attributes compare.compare_files reads (its argparse defaults, stricter where we can)."""

    loose_numbers = False
    float_tol = 0.0
    strict_key_order = True
    strict_producer = True
    bytes = True
    max_diffs = 20


def _run_case(case: Path, output: Path) -> int:
    args = shlex.split((case / "args.txt").read_text().strip())
    inputs = ["inputs/" + name for name in sorted(os.listdir(case / "inputs"))]
    cwd = os.getcwd()
    os.chdir(case)  # AIRR inputs keep the path as typed, like the original run
    try:
        return main(["-o", str(output), *args, "--", *inputs])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str, tmp_path: Path) -> None:
    case = CORPUS / name
    output = tmp_path / "out.vidjil"
    assert _run_case(case, output) == 0
    differences = compare.compare_files(str(output), str(case / "expected.vidjil"), _Options)
    assert not differences, f"{name}: " + "\n".join(differences[:10])


def test_compare_script_accepts_our_command(tmp_path: Path) -> None:
    """The corpus's own runner, as a user would call it, with ``python -m fuse_rpc``."""
    command = f"{shlex.quote(sys.executable)} -m fuse_rpc -o {{out}} {{args}} -- {{inputs}}"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    completed = subprocess.run([sys.executable, str(CORPUS / "compare.py"), "--run", str(CORPUS), "--cmd", command],
                               capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert f"{len(CASES)}/{len(CASES)} cases PASS" in completed.stdout
