"""MiXCR: align, assemble, exportClones (`config.command` = `align args | assemble args | export args`)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import AnalysisInput, Invocation, ProgramError, executable, split_command

_TOTAL_READS = re.compile(r"Total Reads analysed: ([0-9]+)")


def build(job: AnalysisInput) -> Invocation:
    mixcr = executable(job.settings, "vidjil.mixcr_path", "MiXCR")
    groups = (job.command or "").split("|")
    if len(groups) != 3:
        raise ProgramError("a MiXCR config needs three argument groups: align | assemble | exportClones")
    align_args, assemble_args, export_args = (split_command(group) for group in groups)
    out, base = job.out_dir, job.basename
    align_report, assemble_report = out / f"{base}.mixcr.report.aln", out / f"{base}.mixcr.report.asmbl"
    alignments, clones, result = out / f"{base}.align.vdjca", out / f"{base}.clones.clns", out / f"{base}.mixcr"
    steps = [
        [*mixcr, "align", "--save-reads", "-t", "1", "-r", str(align_report), *align_args,
         str(job.sequence_path), str(alignments)],
        [*mixcr, "assemble", "-t", "1", "-r", str(assemble_report), *assemble_args, str(alignments), str(clones)],
        [*mixcr, "exportClones", "--format", "vidjil", "-germline", "-id", "-name", "-reads", "-sequence", "-top",
         "-seg", "-s", *export_args, str(clones), str(result)],
    ]

    def finish(path: Path, ran: list[list[str]]) -> None:
        reports = "".join(p.read_text(errors="replace") for p in (align_report, assemble_report) if p.exists())
        data = json.loads(path.read_text())
        samples = data.setdefault("samples", {})
        samples["log"] = [(samples.get("log") or [""])[0] + reports]
        samples["original_names"] = [job.data_file]
        samples["commandline"] = [" && ".join(" ".join(step) for step in ran)]
        match = _TOTAL_READS.search(reports)
        if match:
            data.setdefault("reads", {})["total"] = [int(match.group(1))]
        path.write_text(json.dumps(data))

    return Invocation(steps, out / f"{base}.mixcr.log", result, f"{base}.mixcr",
                      remove_after={1: [alignments]}, finish=finish)
