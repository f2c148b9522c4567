#!/bin/sh
# A vidjil-algo that fails: a message on stderr and exit code 3, no result.
echo "  ! stand-in failure on purpose" >&2
exit 3
