"""Command line of fuse, compatible with the original ``tools/fuse.py`` options.

    python -m fuse_rpc -o OUT.vidjil [-t TOP] [-d AXES [AXES ...]] [--overlaps] -- FILE [FILE ...]

A FILE may be ``result.vidjil,pre_process.vidjil``.  Put ``--`` before the
files when ``-d`` is last, since ``-d`` takes one or more values.
Exit status: 0 on success, 1 when an input or the output cannot be handled,
2 on a usage error.  Errors are reported on one line, without traceback
(set VIDJIL_FUSE_DEBUG=1 to see tracebacks of unexpected errors).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Sequence

from . import writers
from .errors import FuseError, FuseUsageError
from .merge import FuseOptions, fuse, reload_after_post
from .readers import InputSpec
from .stats import AVAILABLE_AXES, parse_distributions

DESCRIPTION = "Merge the .vidjil results of several samples into one multi-sample .vidjil file."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fuse", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter,
        epilog="example:\n  fuse -o patient.vidjil -t 100 -d lenSeqAverage -- diag.vidjil mrd1.vidjil,mrd1.pre.vidjil")
    add = parser.add_argument
    add("--output", "-o", default="fused.vidjil", help="output file (%(default)s)")
    add("--top", "-t", type=int, default=50,
        help="keep the clones ranked at most TOP in at least one input (%(default)s; 0 keeps none)")
    add("--first", "-f", type=int, default=0, help="only use the first FIRST inputs (0: all)")
    add("--distribution", "-d", nargs="+", action="extend", metavar="AXES",
        help="compute a distribution over comma-separated AXES; several values and several -d accumulate")
    add("--distributions-all", "-D", action="store_true", help="compute the preset of 959 distributions")
    add("--distributions-list", "-l", action="store_true", help="list the available axes")
    add("--no-clones", action="store_true", help="do not output individual clones")
    add("--overlaps", action="store_true", help="compute Morisita-Horn and Jaccard overlap indices")
    add("--export-airr", action="store_true", help="write an AIRR table (OUTPUT with .vidjil -> .airr) instead of JSON")
    add("--compress", "-c", action="store_true", help="set samples.names to the distinctive part of the sample names")
    add("--pre", metavar="CMD", help="script(s) run on each input first: 'script [args] [&& script2 ...]'")
    add("--post", metavar="CMD", help="script(s) run on the fused result")
    add("--scripts-dir", metavar="DIR",
        help="where --pre/--post scripts live (default: $VIDJIL_FUSE_SCRIPTS_DIR)")
    add("--similarity-tool", metavar="PATH", help="vidjil 'similarity' program, run when fewer than 100 clones remain")
    add("--pipeline", "-p", action="store_true", help="accepted for compatibility; no effect")
    add("--ijson", action="store_true", help="accepted for compatibility; inputs are always streamed")
    add("--multi", action="store_true", help=argparse.SUPPRESS)
    add("--test", action="store_true", help=argparse.SUPPRESS)
    add("file", nargs="*", help="input files: .vidjil (or .gz), AIRR .tsv, .clntab, or result,pre_process pairs")
    return parser


def _options(args: argparse.Namespace) -> FuseOptions:
    return FuseOptions(
        top=args.top,
        distributions=parse_distributions(args.distribution, preset=args.distributions_all),
        first=args.first,
        overlaps=args.overlaps,
        no_clones=args.no_clones,
        compress_names=args.compress,
        similarity_tool=args.similarity_tool,
    )


def _log(message: str) -> None:
    print(message, flush=True)


def run(args: argparse.Namespace) -> int:
    """Do what the parsed command line asks; raises FuseError on failure."""
    if args.multi:
        raise FuseUsageError("--multi (merging systems of one time point) is no longer supported")
    if args.test:
        _log("fuse self-tests are run with pytest (tests/unit/fuse_rpc, tests/golden)")
        return 0
    if args.distributions_list:
        _log("available axes for distributions: " + ", ".join(dict.fromkeys(AVAILABLE_AXES)))
        if not args.file:
            return 0
    if not args.file:
        raise FuseUsageError("the following arguments are required: file")

    specs = [InputSpec.parse(argument) for argument in args.file]
    if args.first:
        specs = specs[:args.first]
    options = _options(args)
    if args.pre or args.post:
        from . import scripts  # subprocess and friends, only when scripts are used
    temporary: list[str] = []
    try:
        if args.pre:
            directory = scripts.scripts_directory(args.scripts_dir)
            processed = []
            for spec in specs:
                path = scripts.run_steps(args.pre, directory, spec.path, _log)
                temporary.append(path)
                processed.append(InputSpec(path, spec.pre_process))
            specs = processed
        doc = fuse(specs, options, log=_log)
        if args.post:
            directory = scripts.scripts_directory(args.scripts_dir)
            writers.write_json(doc, args.output)
            path = scripts.run_steps(args.post, directory, args.output, _log)
            temporary.append(path)
            doc = reload_after_post(path)
        if args.export_airr:
            output = writers.airr_path(args.output)
            writers.write_airr(doc, output)
        else:
            output = args.output
            writers.write_json(doc, output)
    finally:
        for path in temporary:
            try:
                os.unlink(path)
            except OSError:
                pass
    _log(f"==> {output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m fuse_rpc`` and ``vidjil-server fuse``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors and --help
        return exc.code if isinstance(exc.code, int) else 2
    collecting = gc.isenabled()
    gc.disable()  # parsed JSON holds no reference cycles; collections only cost time here
    try:
        return run(args)
    except FuseUsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"fuse: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FuseError as exc:
        print(f"fuse: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fuse: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or an input shape nobody foresaw: still one line
        if os.environ.get("VIDJIL_FUSE_DEBUG"):
            raise
        print(f"fuse: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if collecting:
            gc.enable()



