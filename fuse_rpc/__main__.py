"""``python -m fuse_rpc ...``: the fuse command line."""
from .cli import main

raise SystemExit(main())
