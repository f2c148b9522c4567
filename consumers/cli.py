"""`vidjil-server consumer {analysis,pre_process,fuse}` and `vidjil-server sweeper`."""
from __future__ import annotations

import argparse
import logging
import threading

from vidjil_pyramid.jobs.broker import KINDS, MemoryBroker, RabbitBroker, make_broker

log = logging.getLogger(__name__)


def _rabbit_broker(ctx) -> RabbitBroker:
    from vidjil_pyramid.cli import CliError

    try:
        broker = make_broker(ctx.settings)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if isinstance(broker, MemoryBroker):
        raise CliError("vidjil.broker_url is memory://: the in-process queue is consumed inside "
                       "`vidjil-server serve`; set it (or VIDJIL_BROKER_URL) to amqp://... to run separate consumers")
    broker.engine = ctx.engine
    return broker


def cmd_consumer(ctx) -> int:
    from .jobs import WorkerContext
    from .runtime import RabbitConsumerRuntime, worker_name

    broker = _rabbit_broker(ctx)
    worker = WorkerContext(ctx.settings, ctx.engine, worker_name(ctx.args.kind), broker)
    runtime = RabbitConsumerRuntime(worker, ctx.args.kind, broker.url, broker.prefix)
    runtime.install_signal_handlers()
    log.info("starting %s", worker.worker_name)
    try:
        runtime.run()
    finally:
        broker.close()
    return 0


def cmd_sweeper(ctx) -> int:
    import signal

    from .sweeper import Sweeper

    broker = _rabbit_broker(ctx)
    sweeper = Sweeper(ctx.settings, ctx.engine, broker)
    if ctx.args.once:
        print(sweeper.sweep())
        broker.close()
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("sweeper started (every %s s)", sweeper.interval)
    try:
        sweeper.run_forever(stop)
    finally:
        broker.close()
    return 0


def register(subparsers, add) -> None:
    p = add("consumer", cmd_consumer, "run jobs from a RabbitMQ queue (one job at a time)")
    p.add_argument("kind", choices=KINDS, help="the queue to consume")
    p.add_argument("--data-dir", dest="data_dir_sub", help=argparse.SUPPRESS)
    p = add("sweeper", cmd_sweeper, "requeue jobs of dead workers and republish jobs nobody took")
    p.add_argument("--once", action="store_true", help="sweep once and exit")
    p.add_argument("--data-dir", dest="data_dir_sub", help=argparse.SUPPRESS)
