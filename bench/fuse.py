#!/usr/bin/env python3
"""Benchmark of fuse: time and peak memory, ours and (optionally) the original's.

    python bench/fuse.py [--original /tmp/orig-fuse/fuse.py] [--repeat 3] [--check]

Inputs are generated in a temporary folder (deleted at the end):

* ``multi``: 10 samples x 20,000 clones, ids partly shared between samples;
* ``single``: 1 sample x 200,000 clones;
* ``single-20k``: 1 sample x 20,000 clones, to show that our peak memory does not
  grow with the clones that ``-t`` drops (compare with ``single``).

Each fuse runs as a child process (``-t 100``, the server's setting); its wall
time and peak resident memory (``ru_maxrss`` of that child, via ``os.wait4``)
are reported.  ``--original`` runs the original ``tools/fuse.py`` too (keep its
helper modules next to it, outside this repository) and prints our ratios.
``--check`` also compares both outputs (ignoring run timestamps).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENES_V = [f"IGHV{f}-{n}*0{a}" for f in range(1, 8) for n in (2, 18, 23, 30, 34) for a in (1, 2)]
GENES_J = [f"IGHJ{n}*0{a}" for n in range(1, 7) for a in (1, 2)]
BASES = "ACGT"


def _sequence(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice(BASES) for _ in range(length))


def make_clone(rnd: random.Random, clone_id: str, reads: int, rank: int) -> dict:
    """A clone with the fields vidjil-algo writes for ``-c clones`` (no sequence details)."""
    v, j = rnd.choice(GENES_V), rnd.choice(GENES_J)
    return {
        "id": clone_id, "germline": "IGH", "name": f"{v} {rnd.randint(0, 9)}/{_sequence(rnd, rnd.randint(0, 8))}/{rnd.randint(0, 9)} {j}",
        "reads": [reads], "top": rank, "_average_read_length": [round(rnd.uniform(120, 260), 3)],
        "seg": {"5": {"name": v, "stop": 40}, "3": {"name": j, "start": 52},
                "junction": {"start": 30, "stop": 70, "productive": rnd.random() < 0.8}},
    }


def make_sample(path: Path, rnd: random.Random, ids: list[str], name: str) -> None:
    """Write one single-sample .vidjil with the given clone ids, ranked by decreasing reads."""
    reads = sorted((max(1, int(rnd.paretovariate(1.2))) for _ in ids), reverse=True)
    clones = [make_clone(rnd, clone_id, count, rank) for rank, (clone_id, count) in enumerate(zip(ids, reads), 1)]
    total = sum(reads)
    doc = {
        "vidjil_json_version": "2016b",
        "samples": {"number": 1, "original_names": [name], "producer": ["bench"], "run_timestamp": ["2024-01-01 00:00:00"],
                    "commandline": ["vidjil-algo -c clones"], "log": ["generated"]},
        "reads": {"total": [total + total // 10], "segmented": [total], "germline": {"IGH": [total]}},
        "diversity": {"index_H_entropy": 5.0, "index_E_equitability": 0.5, "index_Ds_diversity": 0.9},
        "clones": clones,
    }
    with open(path, "w") as out:
        json.dump(doc, out)


def generate(folder: Path, seed: int = 1) -> dict[str, list[Path]]:
    rnd = random.Random(seed)
    pool = [_sequence(rnd, 50) for _ in range(60_000)]
    multi = []
    for i in range(10):
        ids = rnd.sample(pool, 20_000)  # ~1/3 of a sample's clones are in any other sample
        path = folder / f"multi_{i:02d}.vidjil"
        make_sample(path, rnd, ids, f"/data/sample_{i:02d}.fastq.gz")
        multi.append(path)
    single = folder / "single_200k.vidjil"
    make_sample(single, rnd, [_sequence(rnd, 50) for _ in range(200_000)], "/data/single.fastq.gz")
    small = folder / "single_20k.vidjil"
    make_sample(small, rnd, [_sequence(rnd, 50) for _ in range(20_000)], "/data/small.fastq.gz")
    return {"multi": multi, "single": [single], "single-20k": [small]}


def measure(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Run a command; return (wall seconds, CPU seconds, peak RSS in MB) of that child only.

    CPU time (user + system) is reported because wall time suffers when the
    machine is shared; ru_maxrss is read with wait4 for this very child.
    """
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errors = child.stderr.read().decode(errors="replace") if child.stderr else ""
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if child.stderr:
        child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"failed ({child.returncode}): {' '.join(command)}\n{errors[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: kilobytes


def best_of(command: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """Best wall and CPU times over ``repeat`` runs, and the largest peak memory."""
    runs = [measure(command, cwd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def _comparable(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("timestamp", None)
    doc.pop("producer", None)
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", help="path to the original tools/fuse.py (with utils.py, defs.py... next to it)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; the best time is kept")
    parser.add_argument("--options", default="-t 100", help="fuse options (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="also check that both outputs are equal")
    parser.add_argument("--keep", help="generate the inputs in this folder and keep them (reused if present)")
    parser.add_argument("--generate-only", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(Path(args.generate_only))
        return 0

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fuse-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    sets = {"multi": [folder / f"multi_{i:02d}.vidjil" for i in range(10)],
            "single": [folder / "single_200k.vidjil"], "single-20k": [folder / "single_20k.vidjil"]}
    try:
        if not all(f.exists() for files in sets.values() for f in files):
            print(f"generating inputs in {folder} ...", flush=True)
            # in a child process, so that this one stays small: a child's ru_maxrss
            # starts from the size of the process it was forked from
            subprocess.run([sys.executable, __file__, "--generate-only", str(folder)], check=True)
        for name, files in sets.items():
            size = sum(f.stat().st_size for f in files) / 1e6
            print(f"  {name}: {len(files)} file(s), {size:.0f} MB")
        options = args.options.split()
        print(f"\nfuse {args.options}; best of {args.repeat} runs; wall and CPU (user+sys) seconds; peak RSS of the child")
        header = f"{'inputs':<12} {'ours wall':>9} {'cpu':>6} {'MB':>6}"
        if args.original:
            header += f" {'orig wall':>9} {'cpu':>6} {'MB':>6}   {'faster (wall/cpu)':>17} {'less memory':>11}"
        print(header)
        for name, files in sets.items():
            inputs = [str(f) for f in files]
            ours_out = folder / f"ours_{name}.vidjil"
            ours = best_of([sys.executable, "-m", "fuse_rpc", "-o", str(ours_out), *options, "--", *inputs],
                           REPO, args.repeat)
            line = f"{name:<12} {ours[0]:>9.2f} {ours[1]:>6.2f} {ours[2]:>6.0f}"
            if args.original:
                orig_out = folder / f"orig_{name}.vidjil"
                orig = best_of([sys.executable, str(Path(args.original).resolve()), "-o", str(orig_out), *options,
                                "--", *inputs], folder, args.repeat)
                line += (f" {orig[0]:>9.2f} {orig[1]:>6.2f} {orig[2]:>6.0f}   "
                         f"{orig[0] / ours[0]:>7.1f}x /{orig[1] / ours[1]:>5.1f}x {orig[2] / ours[2]:>10.1f}x")
                if args.check:
                    line += "  same output" if _comparable(ours_out) == _comparable(orig_out) else "  OUTPUTS DIFFER"
            print(line, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
