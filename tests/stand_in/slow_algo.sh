#!/bin/sh
# A vidjil-algo that takes its time, for the tests of time limits, stops and crashes.
# It notes each start in $STAND_IN_LOG, its process id in $STAND_IN_PIDS, sleeps
# $STAND_IN_SLEEP seconds (in a child process, as real pipelines do), then runs the stand-in.
[ -n "$STAND_IN_LOG" ] && echo "start $$" >> "$STAND_IN_LOG"
[ -n "$STAND_IN_PIDS" ] && echo "$$" >> "$STAND_IN_PIDS"
sleep "${STAND_IN_SLEEP:-0}"
exec "${STAND_IN_PYTHON:-python3}" -m consumers.stand_in_algo "$@"
