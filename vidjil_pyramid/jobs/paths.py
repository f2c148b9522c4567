"""Where jobs keep their working files (the original's `DIR_OUT_VIDJIL_ID`, `DIR_PRE_VIDJIL_ID`).

Working folders are kept after the job (their logs are the job's record) and may be
purged by operators; stored results live in `vidjil.results_dir` under web2py names.
"""
from __future__ import annotations

from pathlib import Path


def output_basename(results_file_id: int) -> str:
    """`000042`: the base name of an analysis' outputs (`-b` of vidjil-algo)."""
    return "%06d" % int(results_file_id)


def analysis_dir(settings: dict, results_file_id: int) -> Path:
    """`<tmp_dir>/out-000042/`: program outputs, its log and the fuse logs of one result."""
    return Path(settings["vidjil.tmp_dir"]) / f"out-{output_basename(results_file_id)}"


def pre_process_dir(settings: dict, sequence_file_id: int) -> Path:
    """`<tmp_dir>/pre/out-000007/`: the pre-process working folder of one sample."""
    return Path(settings["vidjil.tmp_dir"]) / "pre" / f"out-{'%06d' % int(sequence_file_id)}"


def refuse_dir(settings: dict, task_id: int) -> Path:
    """`<tmp_dir>/fuse/task-000012/`: fuse logs of a re-fuse job (after a deletion)."""
    return Path(settings["vidjil.tmp_dir"]) / "fuse" / f"task-{'%06d' % int(task_id)}"
