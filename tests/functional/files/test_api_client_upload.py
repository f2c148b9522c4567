"""The real `tools/api_vidjil.py` client against a `vidjil-server serve` process:
log in, create a patient, `createSample` with the upload of a real `.fa` file, read
the sample back from the set page and download the file again."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MIRROR = Path("/work/.mirror/vidjil+vidjil/repo")
REVISION = "489dc1e58"
EMAIL, PASSWORD = "api.user@lab.test", "api-password-1"
FASTA = ">seq1 IGHV3-23*01 IGHJ4*02\nGAGGTGCAGCTGTTGGAGTCTGGGGGAGGCTTGGTACAGCCTGGGGGGTCCCTGAGACTCTCC\n" \
        ">seq2 TRGV9 TRGJP\nAGGTGGAGCAGCTGGACACAATCTCTCAGCTGCAAGAAGCTAACCTGGTGGGCCTTCAAGAG\n"


def _client_source(target: Path) -> Path:
    if not MIRROR.exists() or shutil.which("git") is None:
        pytest.skip("the vidjil mirror (for tools/api_vidjil.py) is not available")
    for name in ("requests", "bs4", "tabulate", "requests-toolbelt", "urllib3"):
        try:  # the client asks on stdin to install what it misses
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"api_vidjil.py needs the {name} distribution")
    source = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{REVISION}:tools/api_vidjil.py"],
                            capture_output=True, check=True).stdout
    path = target / "api_vidjil.py"
    path.write_bytes(source)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A real server on a fresh SQLite data directory, with one user."""
    command = str(Path(sys.executable).with_name("vidjil-server"))
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDJIL_")}
    # the server of this checkout, whatever the state of the editable install
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    subprocess.run([command, "--data-dir", str(data), "initdb"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    subprocess.run([command, "--data-dir", str(data), "user", "add", "--email", EMAIL, "--first-name", "Api",
                    "--last-name", "User", "--password", PASSWORD], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    port = _free_port()
    process = subprocess.Popen([command, "--data-dir", str(data), "serve", "--port", str(port)], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/vidjil"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/default/whoami", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the server did not start: " + process.stderr.read().decode()[-2000:])
                time.sleep(0.2)
        yield url, data
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_create_sample_and_upload_with_the_api_client(server, tmp_path, monkeypatch):
    url, data = server
    work = tmp_path / "client"
    work.mkdir()
    monkeypatch.chdir(work)  # the client looks for a `cookies` file in the current directory
    spec = importlib.util.spec_from_file_location("api_vidjil", _client_source(work))
    api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api)
    reads = work / "sample R1.fa"
    reads.write_text(FASTA)

    vidjil = api.Vidjil(url, ssl=False)
    vidjil.login(EMAIL, PASSWORD)
    created = vidjil.createPatient("Jeanne", "Dupont", birth_date="1961-04-12", info="api #demo")
    set_id = created["args"]["id"]
    token = f":p+Dupont+({set_id})"
    content = vidjil.createSample(set_ids=token, sample_set_id=token, sample_type=api.Vidjil.PATIENT,
                                  file_filename=str(reads), file_filename2="", file_info="api sample #diagnosis",
                                  file_sampling_date="2024-01-10")
    sample_id = content["file_ids"][0]
    assert vidjil.last_request["response"].status_code == 200

    samples = vidjil.getSamplesOfSet(set_id)
    row = next(r for r in samples["query"] if r["sequence_file"]["id"] == sample_id)
    stored = row["sequence_file"]["data_file"]
    assert row["sequence_file"]["filename"] == "sample R1.fa"
    assert row["sequence_file"]["info"] == "api sample #diagnosis"
    assert stored and (data / "uploads" / stored).read_text() == FASTA

    vidjil.download(stored, "downloaded.fa")
    assert (work / "downloaded.fa").read_text() == FASTA.replace(".fa", "")  # the client strips extensions
    assert json.loads(urllib.request.urlopen(f"{url}/default/download/{stored}").read()).get("redirect")
