"""Subcommands `legacy-import`, `export` and `import` of `vidjil-server`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .files import MODES

EXPORT_TYPES = ("patient", "run", "generic")


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir_sub", help=argparse.SUPPRESS)


def _cli_error(message: str):
    from vidjil_pyramid.cli import CliError

    return CliError(message)


def cmd_legacy_import(ctx) -> int:
    from .files import FileImportError
    from .importer import ImportOptions, LegacyImportError, run_import
    from .scratch import DumpError
    from .source import SourceError
    from .target import TargetRefused

    a = ctx.args
    options = ImportOptions(
        source_url=a.source_url, dump=Path(a.dump) if a.dump else None, scratch_url=a.scratch,
        uploads=[Path(p) for p in a.uploads or []], results=[Path(p) for p in a.results or []],
        files_mode=a.files, dry_run=a.dry_run, batch_size=a.batch_size, checksums=not a.no_checksums,
        old_file_source=Path(a.file_source) if a.file_source else None, dump_loader=a.dump_loader,
    )
    for directory in [*options.uploads, *options.results]:
        if not directory.is_dir():
            raise _cli_error(f"not a directory: {directory}")
    try:
        report = run_import(options, ctx.settings, engine=ctx.engine)
    except (LegacyImportError, TargetRefused, SourceError, DumpError, FileImportError) as exc:
        raise _cli_error(str(exc)) from None
    except KeyboardInterrupt:
        print("interrupted: finished phases are kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    default_name = "legacy-import-dry-run-report.json" if a.dry_run else "legacy-import-report.json"
    report_path = Path(a.report) if a.report else Path(ctx.settings["vidjil.data_dir"]) / default_name
    report.write(report_path)
    print(report.summary())
    print(f"report: {report_path}")
    return 0


def cmd_export_sample_sets(ctx) -> int:
    from .migrator import MigratorError, export_archive

    a = ctx.args
    try:
        with ctx.session() as db:
            result = export_archive(db, Path(a.path), Path(a.source or ctx.settings["vidjil.results_dir"]),
                                    sample_type=a.sample_type, detail_ids=a.ids)
    except MigratorError as exc:
        raise _cli_error(str(exc)) from None
    print(result.summary())
    return 0


def cmd_export_groups(ctx) -> int:
    from .migrator import MigratorError, export_archive

    a = ctx.args
    try:
        with ctx.session() as db:
            result = export_archive(db, Path(a.path), Path(a.source or ctx.settings["vidjil.results_dir"]),
                                    group_ids=a.group_ids)
    except MigratorError as exc:
        raise _cli_error(str(exc)) from None
    print(result.summary())
    return 0


def cmd_import_archive(ctx) -> int:
    from .migrator import MigratorError, import_archive

    a = ctx.args
    archive = Path(a.archive)
    try:
        with ctx.session() as db:
            result = import_archive(
                db, archive, group_id=a.group_id,
                results_dir=Path(a.path or ctx.settings["vidjil.results_dir"]),
                config_map=Path(a.config_map) if a.config_map else None,
                pre_process_map=Path(a.pre_process_map) if a.pre_process_map else None,
                dry_run=a.dry_run,
            )
    except MigratorError as exc:
        raise _cli_error(str(exc)) from None
    print(result.summary())
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def register(subparsers, add) -> None:
    p = add("legacy-import", cmd_legacy_import,
            "move a web2py Vidjil server (database and files) into this server's empty database")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source_url", metavar="URL",
                        help="the web2py database, read only: mysql+pymysql://user:password@host/db")
    source.add_argument("--from-dump", dest="dump", metavar="FILE.sql",
                        help="a mysqldump of the web2py database (plain or .gz)")
    p.add_argument("--scratch", metavar="URL",
                   help="MySQL/MariaDB server where the dump is loaded into a temporary database "
                        "(default: the target's server when it is MySQL/MariaDB)")
    p.add_argument("--uploads", action="append", metavar="DIR",
                   help="the old DIR_SEQUENCES (repeat for older folders, searched in order)")
    p.add_argument("--results", action="append", metavar="DIR",
                   help="the old DIR_RESULTS (repeat for older folders, searched in order)")
    p.add_argument("--files", choices=MODES, default="copy",
                   help="copy (default), hard-link or move the files into the data directory")
    p.add_argument("--file-source", metavar="DIR",
                   help="the old FILE_SOURCE: symlinks of network samples pointing there are re-pointed "
                        "to vidjil.file_source")
    p.add_argument("--dry-run", action="store_true",
                   help="do everything in a throw-away database, copy no file, write the report")
    p.add_argument("--report", metavar="FILE", help="where to write the JSON report "
                   "(default: legacy-import-report.json in the data directory)")
    p.add_argument("--batch-size", type=_positive, default=5000, help=argparse.SUPPRESS)
    p.add_argument("--no-checksums", action="store_true", help="do not compute the files' SHA-256")
    p.add_argument("--dump-loader", choices=("auto", "client", "builtin"), default="auto",
                   help=argparse.SUPPRESS)
    _data_dir_option(p)

    export = subparsers.add_parser("export", help="write a migrator archive of some sample sets",
                                   description="write an archive of the original migrator's format")
    export_modes = export.add_subparsers(dest="export_mode", metavar="{sample_set,group}")
    export_modes.required = True

    def archive_options(parser):
        parser.add_argument("-p", "--path", required=True, help="archive directory to create")
        parser.add_argument("-s", "--source", help="results directory the files are copied from "
                                                   "(default: this server's)")
        _data_dir_option(parser)

    p = add("sample_set", cmd_export_sample_sets, "export patients, runs or sets by their ids",
            parent=export_modes)
    p.add_argument("sample_type", choices=EXPORT_TYPES)
    p.add_argument("ids", metavar="ID", type=_positive, nargs="+",
                   help="ids of the patient/run/generic rows (not sample-set ids, as in the original)")
    archive_options(p)
    p = add("group", cmd_export_groups, "export every set the groups have access to", parent=export_modes)
    p.add_argument("group_ids", metavar="GID", type=_positive, nargs="+")
    archive_options(p)

    p = add("import", cmd_import_archive, "import a migrator archive; GROUP_ID gets access to it")
    p.add_argument("--dry-run", action="store_true", help="check everything, keep nothing")
    # Not `dest="config"`: that is the global option naming the server's ini file.
    p.add_argument("--config", dest="config_map", metavar="config.json",
                   help="old config id -> link_local (default: config.json in the archive)")
    p.add_argument("--pre-process", dest="pre_process_map", metavar="pprocess.json",
                   help="old pre-process id -> link_local (default: pprocess.json in the archive)")
    p.add_argument("-p", "--path", help="results directory the files go to (default: this server's)")
    p.add_argument("group_id", metavar="GROUP_ID", type=_positive)
    p.add_argument("archive", metavar="ARCHIVE")
    _data_dir_option(p)
