"""vidjil-algo: `<algo> -o <out> -b <base> <config args> [--grep-reads SEQ] <reads>`."""
from __future__ import annotations

from . import AnalysisInput, Invocation, executable, split_command

GERMLINE_TOKEN = "germline"


def with_germline_dir(arguments: list[str], germline_dir: str) -> list[str]:
    """Arguments naming the `germline` folder (`germline/homo-sapiens.g:IGH`) point to the real one.

    The original replaced the text " germline" in the command; here only arguments that
    start with that word change, and they stay separate arguments.
    """
    if not germline_dir:
        return list(arguments)
    base = germline_dir.rstrip("/")
    replaced = []
    for argument in arguments:
        if argument == GERMLINE_TOKEN or argument.startswith((GERMLINE_TOKEN + "/", GERMLINE_TOKEN + ":")):
            argument = base + argument[len(GERMLINE_TOKEN):]
        replaced.append(argument)
    return replaced


def config_arguments(command: str | None, germline_dir: str) -> list[str]:
    # configs meant for the original's "next" binary carry the word `next`: we have one binary
    arguments = [a for a in split_command(command) if a != "next"]
    return with_germline_dir(arguments, germline_dir)


def build(job: AnalysisInput) -> Invocation:
    argv = [*executable(job.settings, "vidjil.algo_path", "vidjil-algo"),
            "-o", str(job.out_dir), "-b", job.basename,
            *config_arguments(job.command, str(job.settings.get("vidjil.germline_dir") or ""))]
    if job.grep_reads:
        argv += ["--out-clone-files", "--grep-reads", job.grep_reads]
    argv.append(str(job.sequence_path))
    if job.grep_reads:
        return Invocation([argv], job.out_dir / f"{job.basename}.vidjil.log",
                          job.out_dir / "seq" / "clone.fa-1", "clone.fa-1", is_vidjil_json=False)
    return Invocation([argv], job.out_dir / f"{job.basename}.vidjil.log",
                      job.out_dir / f"{job.basename}.vidjil", f"{job.basename}.vidjil")
