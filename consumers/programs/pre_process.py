"""Pre-process commands (e.g. merging paired reads) from `pre_process.command` templates.

Placeholders: `&file1&`, `&file2&` (the sample's two uploads), `&result&` (the file to
produce), and `&pear&`, `&flash2&`, `&binaries&` (the folder `vidjil.binaries_dir`).
The template is split into arguments like a config command and run without a shell.
The one shell construct the original templates relied on, a final `> &result&`, is
honoured by sending the program's output to that file; any other operator (`|`, `;`,
`&&`, `<`, `2>`...) is refused: such pipelines belong in a wrapper script (W21).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import ProgramError, split_command

_PLACEHOLDER = re.compile(r"&(\w+)&")
_OPERATORS = re.compile(r"^(\||\|\||&&|&|;|<|<<|>|>>|\d?>|\d?>>|\d?>&\d?|&>)$")
_DIRECTORY_PLACEHOLDERS = ("pear", "flash2", "binaries")


@dataclass(frozen=True)
class PreProcessInvocation:
    argv: list[str]
    stdout_path: Path | None  # where the program's standard output goes (else the log)


def build(command: str | None, file1: Path, file2: Path | None, result: Path, settings: dict) -> PreProcessInvocation:
    tokens = split_command(command)
    stdout_path = None
    if len(tokens) >= 2 and tokens[-2] == ">":
        if tokens[-1] != "&result&":
            raise ProgramError("a pre-process may only redirect its output to &result&")
        stdout_path, tokens = result, tokens[:-2]
    if not tokens:
        raise ProgramError("the pre-process command is empty")
    for token in tokens:
        if _OPERATORS.match(token) or "`" in token or "$(" in token:
            raise ProgramError(f"pre-process commands run without a shell: '{token}' is not supported "
                               "(use a wrapper script)")
    binaries = str(settings.get("vidjil.binaries_dir") or "")
    values = {"file1": str(file1), "file2": str(file2) if file2 else None, "result": str(result),
              **{name: binaries or None for name in _DIRECTORY_PLACEHOLDERS}}

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ProgramError(f"unknown placeholder &{name}& in the pre-process command")
        if values[name] is None:
            what = "a second file" if name == "file2" else "vidjil.binaries_dir to be set"
            raise ProgramError(f"the pre-process command uses &{name}&, which needs {what}")
        return values[name]

    return PreProcessInvocation([_PLACEHOLDER.sub(substitute, token) for token in tokens], stdout_path)


def _longest_common_substring(a: str, b: str) -> str:
    best_end, best_length = 0, 0
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best_length:
                    best_length, best_end = current[j], i
        previous = current
    return a[best_end - best_length:best_end]


def _split_extension(name: str) -> tuple[str, str]:
    for compressed in (".gz", ".bz2", ".xz"):
        if name.endswith(compressed):
            stem, ext = os.path.splitext(name[: -len(compressed)])
            return stem, ext + compressed
    return os.path.splitext(name)


def merged_name(name1: str, name2: str | None) -> str:
    """The output's name from the inputs': their longest common part and their common extension.

    `lsdkj_toto-tata_mlk.fastq.gz` + `rete_toto-tata_eek.fastq.gz` -> `_toto-tata_.fastq.gz`.
    """
    name1 = os.path.basename(name1 or "reads")
    if not name2:
        return name1
    name2 = os.path.basename(name2)
    stem1, ext1 = _split_extension(name1)
    stem2, ext2 = _split_extension(name2)
    extension = ext1 if ext1 == ext2 else ""
    common = _longest_common_substring(stem1, stem2)
    stem = common if common.strip("._-") else f"{stem1}_{stem2}"
    return stem + extension
