"""A stand-in for vidjil-algo, for the demo and the tests: `python -m consumers.stand_in_algo`.

It accepts vidjil-algo's command line (`-o DIR -b BASE [options] FILE`, the reads
file last; unknown options are accepted and ignored) and writes `DIR/BASE.vidjil`,
a genuine `.vidjil` (format 2016b) whose clones are the identical windows of the
reads: the central `-w` nucleotides (50 by default) of each read long enough. With
`--grep-reads SEQ` it also writes `DIR/seq/clone.fa-1`, the reads containing SEQ.
It knows no V(D)J genes: the designations are made up, deterministically.

Selected with `vidjil.algo_path = stand-in` (what `vidjil-server demo` uses when no
real vidjil-algo is configured). Never use it for real samples.
"""
from __future__ import annotations

import collections
import datetime as dt
import gzip
import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Iterator

PRODUCER = "vidjil-algo stand-in (vidjil_pyramid)"
V_GENES = ("IGHV1-2*02", "IGHV3-23*01", "IGHV3-30*18", "IGHV4-34*01", "IGHV5-51*01")
J_GENES = ("IGHJ4*02", "IGHJ6*02", "IGHJ3*02", "IGHJ5*02")
# options of vidjil-algo that take a value (all others are flags); FILE is the last argument
_WITH_VALUE = {"-o", "--dir", "-b", "--base", "-c", "-g", "-w", "-r", "-z", "-e", "-y", "-x", "-t", "-s", "-k",
               "-K", "-d2", "--grep-reads", "--max-clones", "--ratio", "--min-reads", "--window", "-E", "-Z"}


def read_sequences(path: Path) -> Iterator[str]:
    """The sequences of a FASTA or FASTQ file, gzipped or not."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", errors="replace") as handle:
        first = handle.read(1)
        handle.seek(0)
        if first == "@":
            for index, line in enumerate(handle):
                if index % 4 == 1:
                    yield line.strip().upper()
            return
        chunks: list[str] = []
        for line in handle:
            if line.startswith(">"):
                if chunks:
                    yield "".join(chunks).upper()
                chunks = []
            else:
                chunks.append(line.strip())
        if chunks:
            yield "".join(chunks).upper()


def parse_arguments(argv: list[str]) -> dict:
    options: dict = {"-w": "50", "-r": "1", "-g": ""}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _WITH_VALUE and i + 1 < len(argv) - 1:
            options[token] = argv[i + 1]
            i += 2
            continue
        if token.startswith("-g") and len(token) > 2 and not token.startswith("--"):
            options["-g"] = token[2:]
        elif not token.startswith("-"):
            positional.append(token)
        i += 1
    options["dir"] = options.get("-o") or options.get("--dir")
    options["base"] = options.get("-b") or options.get("--base")
    options["file"] = argv[-1] if argv and not argv[-1].startswith("-") else None
    return options


def _locus(germline_option: str) -> str:
    if ":" in germline_option:
        return germline_option.split(":", 1)[1].split(",")[0] or "IGH"
    return "IGH"


def _pick(choices: tuple[str, ...], key: str, salt: str) -> str:
    digest = hashlib.sha1((salt + key).encode()).digest()
    return choices[digest[0] % len(choices)]


def analyse(sequences: list[str], window: int, min_reads: int, locus: str) -> tuple[list[dict], int]:
    """Clones (identical central windows), best first, and the number of segmented reads."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for sequence in sequences:
        if len(sequence) >= window:
            start = (len(sequence) - window) // 2
            groups[sequence[start:start + window]].append(sequence)
    segmented = sum(len(reads) for reads in groups.values())
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    clones = []
    for rank, (key, reads) in enumerate([g for g in ranked if len(g[1]) >= min_reads], start=1):
        representative = reads[0]
        start = (len(representative) - window) // 2
        v, j = _pick(V_GENES, key, "v"), _pick(J_GENES, key, "j")
        v_stop, j_start = start + window // 2 - 3, start + window // 2 + 4
        inserted = representative[v_stop:j_start - 1]
        average = sum(len(r) for r in reads) / len(reads)
        clones.append({
            "id": key,
            "name": f"{v} 0/{inserted}/0 {j}",
            "germline": locus,
            "reads": [len(reads)],
            "top": rank,
            "sequence": representative,
            "_average_read_length": [round(average, 1)],
            "_coverage": [round(len(representative) / average, 3) if average else 1.0],
            "_coverage_info": [f"{len(representative)} bp ({round(100 * len(representative) / average)}% of "
                               f"{round(average, 1)} bp)" if average else ""],
            "seg": {
                "5": {"name": v, "stop": v_stop, "delRight": 0},
                "3": {"name": j, "start": j_start, "delLeft": 0},
                "N": len(inserted),
                "junction": {"start": start + 1, "stop": start + window, "productive": window % 3 == 0},
                "evalue": {"val": "1.000000e-30"},
            },
        })
    return clones, segmented


def diversity(clones: list[dict], segmented: int) -> dict:
    counts = [c["reads"][0] for c in clones]
    if segmented <= 1 or not counts:
        return {"index_H_entropy": 0.0, "index_E_equitability": 0.0, "index_Ds_diversity": 0.0}
    shannon = -sum(n / segmented * math.log(n / segmented) for n in counts if n)
    return {
        "index_H_entropy": shannon,
        "index_E_equitability": shannon / math.log(len(counts)) if len(counts) > 1 else 0.0,
        "index_Ds_diversity": 1 - sum(n * (n - 1) for n in counts) / (segmented * (segmented - 1)),
    }


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_arguments(argv)
    if not options["dir"] or not options["base"] or not options["file"]:
        print("usage: stand_in_algo -o DIR -b BASE [vidjil-algo options] FILE", file=sys.stderr)
        return 2
    reads_path = Path(options["file"])
    if not reads_path.is_file():
        print(f"  ! cannot open {reads_path}", file=sys.stderr)
        return 1
    try:
        window, min_reads = max(10, int(options["-w"])), max(1, int(options["-r"]))
    except ValueError:
        print("  ! -w and -r take numbers", file=sys.stderr)
        return 2
    out_dir = Path(options["dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    sequences = list(read_sequences(reads_path))
    locus = _locus(options["-g"])
    clones, segmented = analyse(sequences, window, min_reads, locus)
    total = len(sequences)
    ratio = f"{100.0 * segmented / total:.1f}" if total else "0"
    log_text = (f"  ==> segmented {segmented} reads ({ratio}%)\n"
                f"  ==> found {len(clones)} {window}-windows in {segmented} segments ({ratio}%) inside {total} sequences\n")
    print(f"{PRODUCER}\n{log_text}", end="", flush=True)
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    data = {
        "vidjil_json_version": "2016b",
        "producer": PRODUCER,
        "timestamp": now,
        "samples": {"number": 1, "original_names": [str(reads_path)], "producer": [PRODUCER],
                    "run_timestamp": [now], "commandline": [" ".join(["vidjil-algo", *argv])], "log": [log_text]},
        "reads": {"total": [total], "segmented": [segmented], "germline": {locus: [segmented]}},
        "clones": clones,
        "diversity": diversity(clones, segmented),
        "germlines": {"species": "Homo sapiens", "species_taxon_id": 9606},
        "config": {"germline": options["-g"], "dir": str(out_dir), "window": window, "min-reads": min_reads},
    }
    grep = options.get("--grep-reads")
    if grep:
        grep = grep.upper()
        (out_dir / "seq").mkdir(exist_ok=True)
        matching = [s for s in sequences if grep in s]
        write_atomically(out_dir / "seq" / "clone.fa-1",
                         "".join(f">read_{i + 1}\n{s}\n" for i, s in enumerate(matching)))
    write_atomically(out_dir / f"{options['base']}.vidjil", json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
