"""Settings: ini file + environment -> one flat dict.

This is the only module that reads the environment, so that every process
(web server, consumers, CLI) given the same data directory acts on the same data.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

# Environment variable -> settings key.
ENV_OVERRIDES = {
    "VIDJIL_DATABASE_URL": "sqlalchemy.url",
    "VIDJIL_BROKER_URL": "vidjil.broker_url",
    "VIDJIL_DATA_DIR": "vidjil.data_dir",
    "VIDJIL_SECRET": "vidjil.secret",
    "VIDJIL_ALLOWED_ORIGINS": "vidjil.allowed_origins",
    "VIDJIL_ALGO_PATH": "vidjil.algo_path",
    "VIDJIL_GERMLINE_DIR": "vidjil.germline_dir",
}

# The embedded default: what a newcomer gets without any ini file.
DEFAULTS: dict[str, str] = {
    "vidjil.data_dir": "./vidjil-data",
    "sqlalchemy.url": "sqlite:///{data_dir}/vidjil.sqlite",
    "vidjil.broker_url": "memory://",
    "vidjil.upload_dir": "{data_dir}/uploads",
    "vidjil.results_dir": "{data_dir}/results",
    "vidjil.tmp_dir": "{data_dir}/tmp",
    "vidjil.log_dir": "{data_dir}/log",
    "vidjil.allowed_origins": "",
    "vidjil.session_max_age": "604800",
    "vidjil.require_https": "false",
    "vidjil.max_upload_bytes": "20000000000",
    "vidjil.browser_url": "/",
    "vidjil.algo_path": "",
    "vidjil.germline_dir": "",
    "vidjil.file_source": "",
    "vidjil.file_types": ".fasta .fastq .fa .fq .fasta.gz .fastq.gz .fa.gz .fq.gz",
    "vidjil.login_max_failures": "5",
    "vidjil.logger_rate_per_minute": "60",
}

_PATH_KEYS = ("vidjil.upload_dir", "vidjil.results_dir", "vidjil.tmp_dir", "vidjil.log_dir")


def _ensure_secret(data_dir: Path) -> str:
    """A per-installation secret kept in the data directory when none is configured."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret.key"
    if key_file.exists():
        return key_file.read_text().strip()
    value = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value)
    return value


def build_settings(
    ini_settings: Mapping[str, Any] | None = None,
    *,
    data_dir: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge, lowest priority first: defaults, ini, environment, explicit options."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update({k: v for k, v in (ini_settings or {}).items() if v is not None})
    for var, key in ENV_OVERRIDES.items():
        if env.get(var):
            settings[key] = env[var]
    if data_dir:
        settings["vidjil.data_dir"] = data_dir
    settings.update({k: v for k, v in (overrides or {}).items() if v is not None})

    root = Path(settings["vidjil.data_dir"]).expanduser().resolve()
    settings["vidjil.data_dir"] = str(root)
    for key in ("sqlalchemy.url", *_PATH_KEYS):
        settings[key] = str(settings[key]).replace("{data_dir}", str(root))
    if not settings.get("vidjil.secret"):
        settings["vidjil.secret"] = _ensure_secret(root)
    return settings


def as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def as_list(value: Any) -> list[str]:
    return [item for item in str(value or "").replace(",", " ").split() if item]


def read_ini(path: str) -> dict[str, Any]:
    """The [app:main] settings of a PasteDeploy ini file."""
    from pyramid.paster import get_appsettings

    return dict(get_appsettings(path))
