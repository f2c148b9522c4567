"""Fuse: merge per-sample Vidjil ``.vidjil`` results into one multi-sample ``.vidjil``.

Library use::

    from fuse_rpc import FuseOptions, fuse, write_json
    doc = fuse(["a.vidjil", "b.vidjil,b.pre.vidjil"], FuseOptions(top=100, distributions=[["lenSeqAverage"]]))
    write_json(doc, "out.vidjil")

Command line: ``python -m fuse_rpc -o out.vidjil -t 100 -- a.vidjil b.vidjil``.
This package depends on the standard library only (it must not import the web app).
"""
from .errors import FuseError, FuseInputError, FuseUsageError
from .merge import FuseOptions, fuse
from .readers import InputSpec
from .stats import AVAILABLE_AXES, parse_distributions
from .writers import write_airr, write_json

__all__ = [
    "AVAILABLE_AXES", "FuseError", "FuseInputError", "FuseOptions", "FuseUsageError", "InputSpec",
    "fuse", "parse_distributions", "write_airr", "write_json",
]
