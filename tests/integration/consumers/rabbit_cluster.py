"""Settings and processes of the RabbitMQ + MariaDB integration tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobs_world import STAND_IN_DIR, JobWorld

ROOT = Path(__file__).resolve().parents[3]
BROKER_URL = os.environ.get("VIDJIL_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
SERVER_URL = os.environ.get("VIDJIL_TEST_MARIADB_SERVER", "mysql+pymysql://root@127.0.0.1")
DATABASE = "vidjil_test_jobs"
DATABASE_URL = f"{SERVER_URL}/{DATABASE}?charset=utf8mb4"
CLOSED_BROKER_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there: the broker is "down"

TIMINGS = {
    "vidjil.worker_heartbeat": "0.5", "vidjil.worker_dead_after": "3", "vidjil.sweep_interval": "0.5",
    "vidjil.republish_after": "1", "vidjil.retry_delay": "0.5", "vidjil.min_free_percent": "0",
}


def reachable() -> str | None:
    import pika
    from sqlalchemy import create_engine, text

    try:
        pika.BlockingConnection(pika.URLParameters(BROKER_URL + "?connection_attempts=1&socket_timeout=2")).close()
    except Exception as exc:
        return f"RabbitMQ not reachable: {exc.__class__.__name__}"
    try:
        engine = create_engine(SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4"))
        engine.dispose()
    except Exception as exc:
        return f"MariaDB not reachable: {exc.__class__.__name__}"
    return None


class Cluster:
    """The processes of one test (consumers, sweeper), on the test's own queues."""

    def __init__(self, world: JobWorld, tmp_path: Path, prefix: str):
        self.world, self.tmp_path, self.prefix = world, tmp_path, prefix
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    "STAND_IN_PYTHON": sys.executable, "STAND_IN_LOG": str(tmp_path / "starts.log"),
                    "STAND_IN_PIDS": str(tmp_path / "pids"), "STAND_IN_SLEEP": "0"}
        self.ini = tmp_path / "test.ini"
        self.write_ini()

    def write_ini(self, **overrides) -> None:
        settings = {
            "sqlalchemy.url": DATABASE_URL, "vidjil.data_dir": str(self.world.data_dir),
            "vidjil.broker_url": BROKER_URL.replace("%", "%%"), "vidjil.queue_prefix": self.prefix,
            "vidjil.secret": "test", "vidjil.algo_path": str(STAND_IN_DIR / "slow_algo.sh"), **TIMINGS, **overrides,
        }
        lines = ["[app:main]", "use = egg:vidjil-pyramid", *(f"{k} = {v}" for k, v in settings.items())]
        self.ini.write_text("\n".join(lines) + "\n")

    def start(self, *command: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{'-'.join(command)}-{len(self.processes)}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "vidjil_pyramid.cli", "--config", str(self.ini), *command],
                                   cwd=str(ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def wait_for_consumers(self, count: int = 1, timeout: float = 20) -> None:
        """Until `count` consumers listen on the analysis queue."""
        broker = self.broker()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if broker.queue_depths()[f"{self.prefix}analysis"]["consumers"] >= count:
                        return
                except Exception:
                    pass
                time.sleep(0.1)
        finally:
            broker.close()
        raise AssertionError(f"no consumer after {timeout} s; logs in {self.tmp_path}")

    def broker(self, url: str = BROKER_URL):
        from vidjil_pyramid.jobs.broker import RabbitBroker

        return RabbitBroker(url, self.prefix)  # the consumers' defaults: the queues' arguments must agree

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
