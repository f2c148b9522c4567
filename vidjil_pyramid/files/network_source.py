"""Server-side sequence files: the mounted `FILE_SOURCE` tree users pick files from.

Users browse the tree (`file/filesystem`) and name a file by its node id, a
path relative to the root such as `//run12/sample.fastq.gz`. Every path is
confined to the root: `..` and `.` components are refused, and symbolic links
are followed only when their target stays inside the root (W3, W20).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from markupsafe import escape

from ..settings import as_list


class SourcePathError(ValueError):
    """A node or file name that does not designate an acceptable file of the source."""


def _normalised_types(file_types: list[str]) -> tuple[str, ...]:
    return tuple(t.lower().lstrip(".") for t in file_types if t.strip(". "))


def has_accepted_type(name: str, types: tuple[str, ...]) -> bool:
    """Whether a file name ends with one of the extensions (all names if there are none)."""
    if not types:
        return True
    lowered = name.lower()
    return any(lowered.endswith("." + t) for t in types)


@dataclass(frozen=True)
class NetworkSource:
    root: Path
    file_types: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "NetworkSource | None":
        """The configured source, or None when `vidjil.file_source` is unset."""
        root = str(settings.get("vidjil.file_source") or "").strip()
        if not root:
            return None
        return cls(root=Path(root).expanduser(), file_types=_normalised_types(as_list(settings.get("vidjil.file_types"))))

    @property
    def real_root(self) -> Path:
        return Path(os.path.realpath(self.root))

    def _components(self, node: str) -> list[str]:
        if "\x00" in node or "\\" in node:
            raise SourcePathError("invalid path")
        parts = [p for p in node.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise SourcePathError("invalid path")
        return parts

    def _inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        root = self.real_root
        return real == root or root in real.parents

    def _directory(self, node: str) -> Path:
        path = self.root.joinpath(*self._components(node))
        if not self._inside(path) or not path.is_dir():
            raise SourcePathError("no such folder")
        return path

    def list_node(self, node: str | None) -> list[dict[str, Any]]:
        """jsTree nodes: the root alone, or the folders and accepted files of a folder.

        Node ids are `<parent node>/<name>`, as the browser expects and sends back.
        Names are HTML-escaped in `text` because jsTree renders it as HTML (W24).
        """
        if node is None:
            return [{"text": "/", "id": "/", "children": True}]
        directory = self._directory(node)
        nodes: list[dict[str, Any]] = []
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise SourcePathError("this folder cannot be read") from exc
        for entry in entries:
            name = entry.name
            path = directory / name
            if not self._inside(path):
                continue  # a link leading out of the source
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                continue
            accepted_file = is_file and has_accepted_type(name, self.file_types)
            if not (is_dir or accepted_file):
                continue
            item: dict[str, Any] = {"text": str(escape(name)), "li_attr": {"id": f"{node}/{name}", "title": name}}
            if is_dir:
                item["children"] = True
            else:
                item["icon"] = "jstree-file"
            nodes.append(item)
        return nodes

    def resolve_file(self, node: str) -> Path:
        """The real path of an accepted regular file of the source named by its node id."""
        parts = self._components(node or "")
        if not parts:
            raise SourcePathError("no file given")
        if not has_accepted_type(parts[-1], self.file_types):
            raise SourcePathError("this type of file is not accepted")
        path = self.root.joinpath(*parts)
        if not self._inside(path):
            raise SourcePathError("invalid path")
        real = Path(os.path.realpath(path))
        if not real.is_file():
            raise SourcePathError("no such file")
        return real
