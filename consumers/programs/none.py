"""`none`: nothing runs; the uploaded file (a `.vidjil`, AIRR `.tsv` or `.clntab`) becomes the result."""
from __future__ import annotations

from . import AnalysisInput, Invocation


def build(job: AnalysisInput) -> Invocation:
    return Invocation([], job.out_dir / f"{job.basename}.vidjil.log", job.sequence_path,
                      job.filename or job.data_file, copy_from=job.sequence_path, is_vidjil_json=False)
