"""The real `tools/api_vidjil.py` of the original project against a real `vidjil-server serve`.

The client is taken from the mirror of the original repository at test time (into a
temporary folder, never into this repository) and driven as a user would: log in,
list sets with and without a filter, fetch one, create a patient, a run and a set,
list a set's samples, delete a set. The server is a subprocess on a free localhost
port with its own data directory, so this checks the whole stack (waitress, URL
quirks such as the client's `//`, JSON served as text, cookies).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

MIRROR = Path(os.environ.get("VIDJIL_ORIGINAL_MIRROR", "/work/.mirror/vidjil+vidjil/repo"))
REVISION = "489dc1e58"
CLIENT_PATH = "tools/api_vidjil.py"
CLIENT_NEEDS = ("requests", "bs4", "tabulate", "requests_toolbelt", "urllib3")
ADMIN_EMAIL = "api-admin@lab.test"
ADMIN_PASSWORD = "Api-client-1234"
SERVER = Path(sys.executable).with_name("vidjil-server")
REPO = Path(__file__).resolve().parents[3]


def _client_source() -> str:
    if not MIRROR.exists() or shutil.which("git") is None:
        pytest.skip(f"no mirror of the original repository at {MIRROR} (set VIDJIL_ORIGINAL_MIRROR)")
    shown = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{REVISION}:{CLIENT_PATH}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"the mirror has no {CLIENT_PATH} at {REVISION}: {shown.stderr.strip()}")
    return shown.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env() -> dict[str, str]:
    """The caller's environment without any VIDJIL_* setting, so the server uses only its data dir;
    this checkout first on the path, so its packages are the ones served."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDJIL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def api_module(tmp_path_factory):
    missing = [name for name in CLIENT_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the API client needs {', '.join(missing)} (pip install requests bs4 tabulate requests-toolbelt)")
    folder = tmp_path_factory.mktemp("api_client")
    path = folder / "api_vidjil.py"
    path.write_text(_client_source())
    spec = importlib.util.spec_from_file_location("api_vidjil_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is not installed")
    data_dir = tmp_path_factory.mktemp("api_server_data")
    workdir = tmp_path_factory.mktemp("api_server_cwd")
    env = _server_env()
    base = [str(SERVER), "--data-dir", str(data_dir)]
    for command in (["initdb"], ["user", "add", "--admin", "--email", ADMIN_EMAIL, "--first-name", "Api",
                                 "--last-name", "Admin", "--password", ADMIN_PASSWORD]):
        done = subprocess.run(base + command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    port = _free_port()
    log = open(workdir / "server.log", "w")
    process = subprocess.Popen(base + ["serve", "--host", "127.0.0.1", "--port", str(port)], cwd=workdir, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/vidjil/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "default/index", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("the server did not start:\n" + (workdir / "server.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def client(api_module, server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the client looks for a `cookies` file in the current folder
    vidjil = api_module.Vidjil(server, ssl=False)
    vidjil.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    personal = [int(g["id"]) for g in vidjil.groups if g["role"].startswith("user_")]
    assert personal, "whoami lists the groups the user may create sets in"
    vidjil.setGroup(personal[0])  # the personal group holds `anon`: its sets show full names
    return vidjil


def test_api_client_creates_lists_reads_and_removes_sets(client, api_module):
    Vidjil = api_module.Vidjil
    assert client.is_admin is True

    created = client.createPatient("Ada", "Lovelace-API", birth_date="1980-02-03", info="from the API #MRD")
    patient_id = created["args"]["id"]
    assert created["redirect"] == "sample_set/index"
    run_id = client.createRun("RUN-API", run_date="2024-05-06", info="api run", sequencer="seq", pcr="pcr")["args"]["id"]
    set_id = client.createSet("set-api", info="api-set")["args"]["id"]

    patients = client.getSets(Vidjil.PATIENT)["query"]
    assert patient_id in {p["sample_set_id"] for p in patients}
    mine = next(p for p in patients if p["sample_set_id"] == patient_id)
    assert (mine["first_name"], mine["last_name"], mine["birth"]) == ("Ada", "Lovelace-API", "1980-02-03")
    assert mine["info"] == "from the API #MRD" and mine["file_count"] == 0 and mine["creator"] == "Admin"
    filtered = client.getSets(Vidjil.PATIENT, "Lovelace")["query"]
    assert [p["sample_set_id"] for p in filtered] == [patient_id]
    assert client.getSets(Vidjil.PATIENT, "no-such-patient")["query"] == []
    assert [r["sample_set_id"] for r in client.getSets(Vidjil.RUN, "RUN-API")["query"]] == [run_id]
    client.infoSets("patients", patients, Vidjil.PATIENT)  # the client's own printing reads every field

    [fetched] = client.getSetById(run_id, Vidjil.RUN)
    assert (fetched["sample_set_id"], fetched["name"], fetched["run_date"]) == (run_id, "RUN-API", "2024-05-06")
    assert client.getSetById(set_id, Vidjil.SET)[0]["name"] == "set-api"  # the client removes spaces from its JSON

    samples = client.getSamplesOfSet(patient_id)
    assert samples["query"] == [] and samples["config_id"] == -1
    client.infoSamples("patient samples", samples)

    client.allowDeletion()
    removed = client.removeSet(set_id)
    assert removed["success"] == "true" and removed["args"] == {"type": "generic", "page": 0}
    with pytest.raises(ValueError, match="access denied"):
        client.getSetById(set_id, Vidjil.SET)
    assert set_id not in {s["sample_set_id"] for s in client.getSets(Vidjil.SET)["query"]}


def test_api_client_uploads_a_sample_into_two_sets(client, api_module, tmp_path):
    """`createSample` + upload of a real .fa file, then `getSamplesOfSet`, then `removeSet` keeps the
    sample in the set it still belongs to."""
    from vidjil_pyramid.demo import demo_reads

    Vidjil = api_module.Vidjil
    patient_id = client.createPatient("Grace", "Hopper-API", info="sample upload")["args"]["id"]
    run_id = client.createRun("RUN-UPLOAD", run_date="2024-06-07")["args"]["id"]
    reads = tmp_path / "reads.fa"
    reads.write_text(demo_reads(20))
    created = client.createSample(set_ids=f":p+Hopper-API+({patient_id})|:r+RUN-UPLOAD+({run_id})",
                                  sample_set_id=patient_id, sample_type=Vidjil.PATIENT,
                                  file_filename=str(reads), file_filename2="", file_info="api #diagnosis",
                                  file_sampling_date="2024-06-08")
    [file_id] = created["file_ids"]

    samples = client.getSamplesOfSet(patient_id)
    [row] = samples["query"]
    assert row["sequence_file"]["id"] == file_id and row["sequence_file"]["filename"] == "reads.fa"
    assert row["sequence_file"]["data_file"] and row["sequence_file"]["size_file"] == reads.stat().st_size
    assert row["sequence_file"]["info"] == "api #diagnosis"
    assert row["results_file"]["status"] == ""
    assert row["list_share_set"] == [{"title": "RUN-UPLOAD", "sample_type": "run", "id": run_id}]
    client.infoSamples("samples", samples)
    assert client.getSets(Vidjil.PATIENT, "Hopper-API")["query"][0]["file_count"] == 1

    client.allowDeletion()
    assert client.removeSet(patient_id)["success"] == "true"
    [kept] = client.getSamplesOfSet(run_id)["query"]
    assert kept["sequence_file"]["id"] == file_id and kept["list_share_set"] == []
