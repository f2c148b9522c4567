"""The fuse service (fuse_rpc.service, client, service_cli): a shared secret, stored names
confined to the results directory, allow-listed options, a time limit that kills the whole
process group, concurrent calls. W22: the original ran any shell string, unauthenticated."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import xmlrpc.client
from pathlib import Path
from types import SimpleNamespace

import pytest

from fuse_rpc import FuseOptions, fuse
from fuse_rpc.client import EMBEDDED, OFF, REMOTE, FuseClient, FuseServiceError, FuseServiceUnavailable, \
    ServiceSettings, SettingsError
from fuse_rpc.service import (
    FAULT_FAILED, FAULT_INVALID, FAULT_NOT_FOUND, FAULT_REFUSED, FAULT_TIMEOUT, FuseService, option_arguments,
    resolve_stored, service_token, start_in_thread,
)
from fuse_rpc.service_cli import cmd_fuse_rpc
from fuse_rpc.writers import dumps

SECRET = "unit-test-secret"
REPO = Path(__file__).resolve().parents[3]


def without_fuse_time(document: dict) -> dict:
    """The document without the moment of the fuse (top-level `timestamp`), for comparisons."""
    return {k: v for k, v in document.items() if k != "timestamp"}


def write_result(directory: Path, name: str, clones: list[tuple[str, int]], sample: str | None = None) -> str:
    """A one-sample `.vidjil` result stored under `name`."""
    reads = [r for _, r in clones]
    doc = {"vidjil_json_version": "2016b", "producer": "vidjil-algo",
           "samples": {"number": 1, "original_names": [sample or name], "producer": ["vidjil-algo"]},
           "reads": {"total": [sum(reads) + 10], "segmented": [sum(reads)], "germline": {"IGH": [sum(reads)]}},
           "clones": [{"id": cid, "top": rank + 1, "reads": [count], "germline": "IGH"}
                      for rank, (cid, count) in enumerate(clones)]}
    (directory / name).write_text(json.dumps(doc))
    return name


@pytest.fixture
def results_dir(tmp_path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def work_dir(tmp_path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def stored(results_dir) -> list[str]:
    return [write_result(results_dir, "results_file.data_file.a1.vidjil", [("c1", 50), ("c2", 5)], "diag.fq"),
            write_result(results_dir, "results_file.data_file.b2.vidjil", [("c1", 20), ("c3", 9)], "fu.fq")]


@pytest.fixture
def serve():
    """Start services in threads on free ports; stop them after the test."""
    started = []

    def start(service: FuseService):
        running = start_in_thread(service, "127.0.0.1", 0)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def client_of(running, secret: str = SECRET, time_limit: float = 30) -> FuseClient:
    return FuseClient("127.0.0.1", running.port, secret, time_limit)


def raw_proxy(running) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{running.port}/RPC2", allow_none=True)


def fake_fuse(tmp_path: Path, body: str) -> list[str]:
    """A stand-in fuse program: `body` runs with OUT (the -o path) and INPUTS defined."""
    script = tmp_path / "fake_fuse.py"
    script.write_text(textwrap.dedent("""
        import json, os, subprocess, sys, time
        args = sys.argv[1:]
        OUT = args[args.index("-o") + 1]
        INPUTS = args[args.index("--") + 1:]
    """) + textwrap.dedent(body))
    return [sys.executable, str(script)]


def process_alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


# --- the secret (W22) -------------------------------------------------------------------------

def test_w22_a_service_cannot_be_built_without_a_secret(results_dir):
    with pytest.raises(ValueError, match="secret"):
        FuseService(results_dir, "")


def test_w22_calls_without_the_secret_are_refused(serve, results_dir, stored, work_dir):
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    with pytest.raises(FuseServiceError) as refused:
        client_of(running, secret="not-the-secret").fuse(stored)
    assert refused.value.code == FAULT_REFUSED
    with pytest.raises(xmlrpc.client.Fault) as no_token:
        raw_proxy(running).fuse()
    assert no_token.value.faultCode == FAULT_REFUSED
    with pytest.raises(xmlrpc.client.Fault) as raw_secret:  # the server's secret itself is not the token
        raw_proxy(running).fuse(SECRET, stored, ["", ""], {})
    assert raw_secret.value.faultCode == FAULT_REFUSED


def test_w22_the_original_shell_string_call_runs_nothing(serve, results_dir, work_dir, tmp_path):
    """The original's `fuse(cmd, output_dir, filename)` ran `cmd` in a shell for anyone."""
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    marker = tmp_path / "pwned"
    with pytest.raises(xmlrpc.client.Fault) as without_token:
        raw_proxy(running).fuse(f"touch {marker}", str(tmp_path), "out")
    assert without_token.value.faultCode == FAULT_REFUSED
    with pytest.raises(xmlrpc.client.Fault) as with_token:
        raw_proxy(running).fuse(service_token(SECRET), f"touch {marker}", str(tmp_path), "out")
    assert with_token.value.faultCode == FAULT_INVALID
    with pytest.raises(xmlrpc.client.Fault) as as_a_name:
        raw_proxy(running).fuse(service_token(SECRET), ["x; touch pwned"], [""], {})
    assert as_a_name.value.faultCode == FAULT_NOT_FOUND
    assert not marker.exists() and not (results_dir / "pwned").exists()


def test_the_token_is_derived_from_the_secret_and_never_equal_to_it():
    assert service_token("a") == service_token("a") != service_token("b")
    assert service_token(SECRET) != SECRET
    with pytest.raises(ValueError):
        service_token("")


# --- stored names stay inside the results directory -----------------------------------------

@pytest.mark.parametrize("name", ["../outside.vidjil", "/etc/passwd", "sub/inner.vidjil", ".hidden", "a,b",
                                  "", "bad\nname", "x" * 401])
def test_names_that_could_lead_elsewhere_are_refused(results_dir, name):
    with pytest.raises(xmlrpc.client.Fault) as fault:
        resolve_stored(results_dir, name)
    assert fault.value.faultCode in (FAULT_INVALID, FAULT_NOT_FOUND)


def test_links_out_of_the_directory_missing_files_and_folders_are_not_found(results_dir, tmp_path):
    outside = tmp_path / "secret.vidjil"
    outside.write_text("{}")
    (results_dir / "link.vidjil").symlink_to(outside)
    (results_dir / "folder.vidjil").mkdir()
    for name in ("link.vidjil", "folder.vidjil", "absent.vidjil"):
        with pytest.raises(xmlrpc.client.Fault) as fault:
            resolve_stored(results_dir, name)
        assert fault.value.faultCode == FAULT_NOT_FOUND


def test_a_stored_name_resolves_inside_the_directory(results_dir, stored):
    assert resolve_stored(results_dir, stored[0]) == (results_dir / stored[0]).resolve()


def test_a_call_naming_a_file_outside_is_refused_before_anything_runs(serve, results_dir, stored, work_dir,
                                                                      tmp_path):
    marker = tmp_path / "ran"
    program = fake_fuse(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir, program=program))
    with pytest.raises(FuseServiceError) as fault:
        client_of(running).fuse([stored[0], "../results/" + stored[1]])
    assert fault.value.code == FAULT_INVALID
    with pytest.raises(FuseServiceError) as pre_fault:
        client_of(running).fuse(stored, ["", "/etc/hostname"])
    assert pre_fault.value.code == FAULT_INVALID
    with pytest.raises(FuseServiceError) as length_fault:
        client_of(running).fuse(stored, [""])
    assert length_fault.value.code == FAULT_INVALID
    assert not marker.exists()


# --- options ----------------------------------------------------------------------------------

def test_allowed_options_become_fuse_arguments():
    assert option_arguments({}) == ["-t", "100"]
    assert option_arguments({"top": 5, "distributions": [["germline", "seg5"], "lenSeqAverage"],
                             "overlaps": True, "no_clones": False}) == \
        ["-t", "5", "-d", "germline,seg5", "-d", "lenSeqAverage", "--overlaps"]


@pytest.mark.parametrize("options", [
    {"output": "/tmp/x"}, {"pre": "rm -rf /"}, {"top": "100"}, {"top": True}, {"top": -1}, {"top": 10**9},
    {"distributions": "germline"}, {"distributions": [["germline", "; rm"]]}, {"distributions": [[]]},
    {"distributions": [["top"]] * 51}, {"overlaps": "yes"}, {"no_clones": 1}, ["top"],
])
def test_unknown_options_and_bad_values_are_refused(options):
    with pytest.raises(xmlrpc.client.Fault) as fault:
        option_arguments(options)
    assert fault.value.faultCode == FAULT_INVALID


def test_bad_options_are_refused_over_the_wire(serve, results_dir, stored, work_dir):
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    with pytest.raises(FuseServiceError) as fault:
        client_of(running).fuse(stored, None, {"scripts_dir": "/tmp"})
    assert fault.value.code == FAULT_INVALID
    assert "scripts_dir" in str(fault.value)


# --- the fuse itself --------------------------------------------------------------------------

def test_the_service_answers_what_the_fuse_library_computes(serve, results_dir, stored, work_dir):
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    text = client_of(running).fuse(stored, None, {"top": 100, "distributions": [["germline"]]})
    paths = [str(results_dir / name) for name in stored]
    expected = fuse(paths, FuseOptions(top=100, distributions=[["germline"]]))
    assert without_fuse_time(json.loads(text)) == without_fuse_time(json.loads(dumps(expected)))
    assert json.loads(text)["samples"]["original_names"] == ["diag.fq", "fu.fq"]
    assert not any(work_dir.iterdir())  # nothing left on disk


def test_pre_process_files_travel_with_their_result(serve, results_dir, stored, work_dir):
    pre = "sequence_file.pre_process_file.c3.vidjil"
    (results_dir / pre).write_text(json.dumps({
        "pre_process": {"producer": ["flash2"], "commandline": ["flash2 r1 r2"]},
        "reads": {"total": [100], "merged": [80]}}))
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    text = client_of(running).fuse(stored, [pre, ""], {"top": 100})
    paths = [f"{results_dir / stored[0]},{results_dir / pre}", str(results_dir / stored[1])]
    document = json.loads(text)
    assert without_fuse_time(document) == without_fuse_time(json.loads(dumps(fuse(paths, FuseOptions(top=100)))))
    assert document["reads"]["merged"][0] == 80


def test_a_failing_fuse_is_a_clear_fault_and_leaves_nothing(serve, results_dir, stored, work_dir):
    (results_dir / "broken.vidjil").write_text("{not json")
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    with pytest.raises(FuseServiceError) as fault:
        client_of(running).fuse([stored[0], "broken.vidjil"])
    assert fault.value.code == FAULT_FAILED
    assert "exit code 1" in str(fault.value) and "broken.vidjil" in str(fault.value)
    assert not any(work_dir.iterdir())


def test_an_invalid_output_is_refused(serve, results_dir, stored, work_dir, tmp_path):
    program = fake_fuse(tmp_path, "open(OUT, 'w').write('{truncated')\n")
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir, program=program))
    with pytest.raises(FuseServiceError) as fault:
        client_of(running).fuse(stored)
    assert fault.value.code == FAULT_FAILED and "invalid document" in str(fault.value)


def test_the_time_limit_kills_the_fuse_and_its_children(serve, results_dir, stored, work_dir, tmp_path):
    pid_file = tmp_path / "child.pid"
    program = fake_fuse(tmp_path, f"""
        child = subprocess.Popen(["sleep", "60"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir, program=program, time_limit=1.5))
    started = time.monotonic()
    with pytest.raises(FuseServiceError) as fault:
        client_of(running, time_limit=1.5).fuse(stored)
    assert fault.value.code == FAULT_TIMEOUT
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(child)
    assert not any(work_dir.iterdir())


def test_calls_run_concurrently(serve, results_dir, stored, work_dir, tmp_path):
    program = fake_fuse(tmp_path, """
        time.sleep(1.2)
        json.dump({"samples": {"number": len(INPUTS), "original_names": INPUTS}}, open(OUT, "w"))
    """)
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir, program=program, max_concurrent=3))
    answers: list[str] = []

    def call():
        answers.append(client_of(running).fuse(stored))

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    elapsed = time.monotonic() - started
    assert len(answers) == 3
    assert elapsed < 3.0, f"three 1.2-second fuses took {elapsed:.1f} s: they did not overlap"


def test_concurrent_fuses_beyond_the_limit_wait_for_a_slot(serve, results_dir, stored, work_dir, tmp_path):
    program = fake_fuse(tmp_path, """
        time.sleep(0.6)
        json.dump({"samples": {"number": 1, "original_names": INPUTS}}, open(OUT, "w"))
    """)
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir, program=program, max_concurrent=1))
    threads = [threading.Thread(target=client_of(running).fuse, args=(stored,)) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert time.monotonic() - started >= 1.2


def test_oversized_requests_are_refused(serve, results_dir, work_dir):
    running = serve(FuseService(results_dir, SECRET, work_dir=work_dir))
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    connection.putrequest("POST", "/RPC2")
    connection.putheader("Content-Type", "text/xml")
    connection.putheader("Content-Length", str(50 << 20))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_nothing_listening_is_unavailable(results_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FuseServiceUnavailable):
        FuseClient("127.0.0.1", port, SECRET, 5).fuse(["x.vidjil"])


# --- settings and the command -----------------------------------------------------------------

@pytest.mark.parametrize("settings, mode, port", [
    ({}, REMOTE, 6544),
    ({"vidjil.broker_url": "memory://"}, EMBEDDED, None),
    ({"vidjil.broker_url": "amqp://x", "vidjil.fuse_rpc_port": "7000"}, REMOTE, 7000),
    ({"vidjil.broker_url": "memory://", "vidjil.fuse_rpc_port": "7000"}, REMOTE, 7000),
    ({"vidjil.fuse_rpc_port": "embedded"}, EMBEDDED, None),
    ({"vidjil.fuse_rpc_port": "off"}, OFF, None),
])
def test_where_the_service_is_found(settings, mode, port):
    found = ServiceSettings.from_settings(settings)
    assert (found.mode, found.port) == (mode, port)


@pytest.mark.parametrize("settings", [{"vidjil.fuse_rpc_port": "99999"}, {"vidjil.fuse_rpc_port": "abc"},
                                      {"vidjil.fuse_rpc_time_limit": "-3"}, {"vidjil.fuse_rpc_time_limit": "x"}])
def test_meaningless_settings_are_reported(settings):
    with pytest.raises(SettingsError):
        ServiceSettings.from_settings(settings)


def _ctx(results_dir: Path, tmp_path: Path, **args):
    values = {"host": None, "port": None, **args}
    return SimpleNamespace(args=SimpleNamespace(**values), settings={
        "vidjil.results_dir": str(results_dir), "vidjil.tmp_dir": str(tmp_path / "tmp"), "vidjil.secret": SECRET})


def test_the_command_reports_bad_settings_without_a_traceback(results_dir, tmp_path, capsys):
    assert cmd_fuse_rpc(_ctx(tmp_path / "absent", tmp_path)) == 2
    assert "does not exist" in capsys.readouterr().err
    ctx = _ctx(results_dir, tmp_path)
    ctx.settings["vidjil.fuse_rpc_time_limit"] = "soon"
    assert cmd_fuse_rpc(ctx) == 2
    assert "vidjil.fuse_rpc_time_limit" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert cmd_fuse_rpc(_ctx(results_dir, tmp_path, port=busy.getsockname()[1])) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_vidjil_server_fuse_rpc_serves_until_terminated(tmp_path, stored, results_dir):
    """The supervisor program: `vidjil-server fuse-rpc` answers, and stops cleanly on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data_dir = tmp_path / "data"
    (data_dir / "results").mkdir(parents=True)
    for name in stored:
        (data_dir / "results" / name).write_bytes((results_dir / name).read_bytes())
    env = {**os.environ, "VIDJIL_SECRET": SECRET, "VIDJIL_BROKER_URL": "amqp://localhost"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vidjil_pyramid.cli", "--data-dir", str(data_dir), "fuse-rpc", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert f"127.0.0.1:{port}" in banner, process.stderr.read() if process.poll() is not None else banner
        document = json.loads(FuseClient("127.0.0.1", port, SECRET, 30).fuse(stored))
        assert document["samples"]["number"] == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
