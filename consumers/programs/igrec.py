"""IgReC: `<igrec.py> -s <reads> -o <out>/out <config args>`, result `<out>/out/igrec.vidjil`."""
from __future__ import annotations

import json
from pathlib import Path

from . import AnalysisInput, Invocation, executable, split_command


def build(job: AnalysisInput) -> Invocation:
    argv = [*executable(job.settings, "vidjil.igrec_path", "IgReC"), "-s", str(job.sequence_path),
            "-o", str(job.out_dir / "out"), *split_command(job.command)]

    def finish(result: Path, steps: list[list[str]]) -> None:
        data = json.loads(result.read_text())
        samples = data.setdefault("samples", {})
        samples["original_names"] = [job.data_file]
        samples["commandline"] = [" ".join(steps[0])]
        result.write_text(json.dumps(data))

    return Invocation([argv], job.out_dir / "vidjil-igrec.log", job.out_dir / "out" / "igrec.vidjil",
                      f"{job.basename}.vidjil", finish=finish)
