"""The import report: JSON for the record, a readable summary for the admin.

Per table: rows in the source, rows left out (with the reasons in warnings),
rows added by the import (permission rows converted from older eras, sample
sets of pre-2016 patients...) and rows in the target, so that
`target == source - dropped + added` can be checked line by line.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TableCount:
    source: int = 0
    dropped: int = 0
    added: int = 0
    target: int = 0

    @property
    def consistent(self) -> bool:
        return self.target == self.source - self.dropped + self.added


@dataclass
class Notice:
    table: str
    count: int
    message: str


@dataclass
class Report:
    dry_run: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, TableCount] = field(default_factory=dict)
    permissions: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    visibility: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    warnings: list[Notice] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, name: str) -> TableCount:
        return self.tables.setdefault(name, TableCount())

    def warn(self, table: str, count: int, message: str) -> None:
        if count:
            self.warnings.append(Notice(table, int(count), message))

    def total_rows(self) -> int:
        return sum(c.target for c in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tables"] = {name: {**asdict(c), "consistent": c.consistent} for name, c in self.tables.items()}
        data["rows_per_second"] = round(self.total_rows() / self.seconds) if self.seconds else None
        return data

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name("." + path.name + ".part")
        partial.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False, default=str))
        partial.replace(path)

    # ------------------------------------------------------------------ summary

    def summary(self) -> str:
        lines = []
        mode = "DRY RUN (nothing kept)" if self.dry_run else "import"
        lines.append(f"legacy import: {mode}")
        lines.append(f"  source: {self.source.get('description', '')}")
        if self.source.get("release"):
            lines.append(f"  looks like: {self.source['release']}")
        lines.append(f"  target: {self.target.get('description', '')}")
        if self.target.get("real_target"):
            lines.append(f"  a real run: {self.target['real_target']}")
        lines.append("")
        lines.append(f"  {'table':<24}{'source':>10}{'dropped':>10}{'added':>10}{'target':>10}")
        for name in sorted(self.tables):
            c = self.tables[name]
            flag = "" if c.consistent else "  (!)"
            lines.append(f"  {name:<24}{c.source:>10}{c.dropped:>10}{c.added:>10}{c.target:>10}{flag}")
        total = self.total_rows()
        rate = f", {round(total / self.seconds)} rows/s" if self.seconds else ""
        lines.append(f"  {'total':<24}{'':>30}{total:>10}  in {self.seconds:.1f} s{rate}")
        if self.permissions:
            lines.append("")
            lines.append("  permissions: " + ", ".join(f"{k} {v}" for k, v in self.permissions.items()))
        if self.passwords:
            formats = ", ".join(f"{k} {v}" for k, v in sorted(self.passwords.get("formats", {}).items()))
            lines.append(f"  passwords: {formats}")
        if self.users:
            lines.append(f"  users: {self.users.get('total', 0)}, can log in: {self.users.get('can_log_in', 0)}")
            for entry in self.users.get("cannot_log_in", [])[:10]:
                lines.append(f"    user {entry['id']} <{entry['email']}>: {entry['reason']}")
        if self.files:
            f = self.files
            if f.get("requested"):
                lines.append(
                    f"  files ({f.get('mode')}): {f.get('found', 0)} found, {f.get('missing', 0)} missing, "
                    f"{f.get('symlinks', 0)} symlinks, {f.get('bytes', 0)} bytes"
                    + (f", checksums in {f['checksums_file']}" if f.get("checksums_file") else ""))
                for name in f.get("missing_names", [])[:10]:
                    lines.append(f"    missing: {name}")
            else:
                lines.append("  files: not requested (give --uploads and --results)")
        if self.warnings:
            lines.append("")
            lines.append(f"  warnings ({len(self.warnings)}):")
            for w in self.warnings:
                lines.append(f"    {w.table}: {w.count} x {w.message}")
        return "\n".join(lines)
