"""`admin/index|monitor|showlog`: for admins only, without host details (W27), reading only
an allow-list of log files (W28) and escaping their lines (W24)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from admin_helpers import asks_login, denied
from factories import make_sequence_file
from vidjil_pyramid.jobs.models import SchedulerTask, SchedulerWorker
from vidjil_pyramid.results.models import ResultsFile


@pytest.fixture
def log_dir(app_settings) -> Path:
    path = Path(app_settings["vidjil.log_dir"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def vidjil_log(log_dir) -> Path:
    path = log_dir / "vidjil.log"
    path.write_text(
        "2024-02-01 12:01:28,367 INFO  [vidjil_pyramid.views] started\n"
        "2024-02-01 12:02:00,001 WARNI [vidjil.client] /client/ user=3: '<img src=x onerror=alert(1)>'\n"
        "2024-02-01 12:03:00,001 ERROR [vidjil_pyramid.jobs] job 12 failed\n"
        "a line in no known format\n")
    return path


@pytest.fixture
def jobs(dbsession):
    sample = make_sequence_file(dbsession)
    for status in ("COMPLETED", "FAILED", "QUEUED", "RUNNING"):
        task = SchedulerTask(function_name="vidjil", status=status)
        dbsession.add(task)
        dbsession.flush()
        dbsession.add(ResultsFile(sequence_file_id=sample.id, scheduler_task_id=task.id, run_date=dt.datetime.now()))
    dbsession.add(SchedulerWorker(worker_name="w1"))
    dbsession.flush()


def test_admin_page_shows_counts_queue_and_health(as_admin, jobs, vidjil_log):
    html = as_admin.post("/vidjil/admin/index").html
    assert html.find("h3", id="page_admin") is not None
    counts = html.find(id="admin_counts").text
    assert "users: 1" in counts and "configs: 8" in counts and "samples: 1" in counts
    monitor = [div.text for div in html.find(id="admin_monitor").find_all("div")]
    assert monitor == ["active workers: 1", "QUEUED: 1", "ASSIGNED: 0", "RUNNING: 1", "LAST_RESULTS: RQFC..."]
    assert "database: ok" in html.find(id="admin_health").text
    log_button = html.find("a", string="vidjil.log")
    assert log_button["onclick"] == "db.call('admin/showlog', {'file': 'vidjil.log', 'format': 'vidjil'});"


def test_admin_page_hides_host_details(as_admin, app_settings):
    """W27: the original printed `df -h`, `uptime` and the git revision."""
    text = as_admin.post("/vidjil/admin/index").text
    for leak in ("Filesystem", "load average", "revision", "free_bytes", "total_bytes", app_settings["vidjil.data_dir"],
                 "Avail", "Mounted on"):
        assert leak not in text, leak
    response = as_admin.get("/vidjil/admin/index.json")
    assert response.json_body["counts"]["users"] == 1
    assert "free_bytes" not in response.text and "amqp" not in response.text


def test_admin_pages_are_for_admins(testapp, as_alice):
    """Transcript unauthorized-admin-index-as-alice (the original answered an empty page)."""
    for url in ("index", "monitor", "showlog?file=vidjil.log"):
        assert denied(as_alice.post(f"/vidjil/admin/{url}")), url


def test_monitor_needs_a_login(testapp, jobs):
    """W6: the original answered anyone."""
    response = testapp.get("/vidjil/admin/monitor")
    assert asks_login(response) and "QUEUED" not in response.text


def test_monitor_for_admins(as_admin, jobs):
    response = as_admin.get("/vidjil/admin/monitor")
    assert response.content_type == "text/plain"
    assert response.text.splitlines() == ["workers", "ALL=1", "tasks", "QUEUED=1", "ASSIGNED=0", "RUNNING=1",
                                          "LAST_RESULTS=RQFC..."]
    assert as_admin.get("/vidjil/admin/monitor.json").json_body == {
        "worker": 1, "queued": 1, "assigned": 0, "running": 1, "last_results": "RQFC"}


def test_showlog_shows_parsed_lines_newest_first_escaped(as_admin, vidjil_log):
    response = as_admin.post("/vidjil/admin/showlog?file=vidjil.log&format=vidjil")
    html = response.html
    assert html.find("h3").text == "vidjil.log"
    rows = html.find("table", id="table").find("tbody").find_all("tr")
    assert rows[0].find_all("td")[-1].text == "a line in no known format"
    assert [td.text for td in rows[1].find_all("td")] == ["2024-02-01", "12:03:00", "ERROR", "vidjil_pyramid.jobs",
                                                          "job 12 failed"]
    assert rows[1]["class"] == ["log-ERROR"]
    assert "<img src=x" not in response.text  # W24: log lines come from anyone (default/logger)
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_showlog_filter_and_raw(as_admin, vidjil_log):
    html = as_admin.post("/vidjil/admin/showlog?file=vidjil.log&format=vidjil&filter=job -started").html
    assert [tr.find_all("td")[-1].text for tr in html.find("tbody").find_all("tr")] == ["job 12 failed"]
    raw = as_admin.post("/vidjil/admin/showlog?file=vidjil.log&format=raw")
    assert "started" in raw.html.find("pre").text and "<img" not in raw.text


def test_showlog_search_is_never_placed_in_javascript(as_admin, vidjil_log):
    """W25: the original put `file`, `filter` and `format` inside an inline JS string."""
    evil = "x'});alert(1);//"
    html = as_admin.post("/vidjil/admin/showlog", {"file": "vidjil.log", "format": "vidjil", "filter": evil}).html
    box = html.find("input", id="db_filter_input")
    assert box["value"] == evil
    assert "alert" not in box["onchange"] and "this.getAttribute('data-file')" in box["onchange"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "../log/vidjil.log", "secret.key",
                                  "vidjil.log/../../secret.key", "", None])
def test_showlog_reads_only_the_allowed_files(as_admin, vidjil_log, app_settings, name):
    """W28: the original opened DIR_LOG + <file> for any value."""
    (Path(app_settings["vidjil.data_dir"]) / "secret.key").write_text("top-secret")
    params = {"format": "raw"} if name is None else {"file": name, "format": "raw"}
    response = as_admin.post("/vidjil/admin/showlog", params)
    assert response.json_body["success"] == "false"
    assert "top-secret" not in response.text and "root:" not in response.text


def test_showlog_of_a_missing_allowed_file(as_admin, log_dir):
    response = as_admin.post("/vidjil/admin/showlog?file=vidjil-debug.log")
    assert response.json_body == {"success": "false", "message": "vidjil-debug.log does not exist (yet)"}
