"""Analysis configs: listing, creating, editing, deleting. Knows nothing of HTTP.

Who may do what is decided by the permission service before these are called.
A new config is given an `access` row for its creator's personal group (the
original wrote a `create_config` row there instead, which gave the creator no
way to see or use what they had just made: http-contract §9.18).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from ..auth.services import grant
from ..results.models import ResultsFile
from .models import Classification, Config
from .sharing import forget_object

# What the runner of each program does is the consumers' business; these are the ones offered.
PROGRAMS = ("none", "vidjil", "igrec", "euro-mrd pipeline", "mixcr")
NO_CLASSIFICATION = "-1"
SHORT_FIELD_MAX = 512  # name, program, command and fuse command are VARCHAR(512)


class ConfigError(ValueError):
    """A config form that cannot be saved, or a config that cannot be deleted."""


@dataclass(frozen=True)
class ConfigForm:
    name: str
    command: str
    fuse_command: str
    program: str
    classification: str
    info: str

    @classmethod
    def from_params(cls, params) -> "ConfigForm":
        def value(key: str) -> str:
            return (params.get(key) or "").strip()

        return cls(name=value("config_name"), command=value("config_command"),
                   fuse_command=value("config_fuse_command"), program=value("config_program"),
                   classification=value("config_classification") or NO_CLASSIFICATION,
                   info=params.get("config_info") or "")


def classifications(db: Session) -> list[Classification]:
    return list(db.scalars(select(Classification).order_by(Classification.id)))


def list_configs(db: Session, accessible_ids: Select) -> list[Config]:
    """The configs whose ids the permission service lets the user use, grouped by classification."""
    return list(db.scalars(select(Config).where(Config.id.in_(accessible_ids))
                           .order_by(Config.classification, Config.name, Config.id)))


def used_config_ids(db: Session) -> set[int]:
    """Configs that have produced results: they cannot be deleted."""
    return set(db.scalars(select(ResultsFile.config_id).where(ResultsFile.config_id.is_not(None)).distinct()))


def is_used(db: Session, config_id: int) -> bool:
    return bool(db.scalar(select(exists().where(ResultsFile.config_id == config_id))))


def _checked_values(db: Session, form: ConfigForm, current_program: str | None = None) -> dict:
    """The column values of a valid form; ConfigError listing every problem otherwise."""
    errors: list[str] = []
    for label, value in (("config_name", form.name), ("config_command", form.command),
                         ("config_fuse_command", form.fuse_command), ("config_program", form.program)):
        if not value:
            errors.append(f"{label} needed")
        elif len(value) > SHORT_FIELD_MAX:
            errors.append(f"{label} too long (at most {SHORT_FIELD_MAX} characters)")
    if form.program and form.program not in PROGRAMS and form.program != current_program:
        errors.append("unknown program (" + ", ".join(PROGRAMS) + ")")
    classification = None
    if form.classification != NO_CLASSIFICATION:
        if not form.classification.isdigit() or db.get(Classification, int(form.classification)) is None:
            errors.append("classification id don't exist")
        else:
            classification = int(form.classification)
    if errors:
        raise ConfigError(", ".join(errors))
    return {"name": form.name, "command": form.command, "fuse_command": form.fuse_command,
            "program": form.program, "classification": classification, "info": form.info}


def create_config(db: Session, form: ConfigForm, owner_group_id: int | None) -> Config:
    """Add a config; the owner group (the creator's personal group) may then use and edit it."""
    config = Config(**_checked_values(db, form))
    db.add(config)
    db.flush()
    if owner_group_id is not None:
        grant(db, owner_group_id, "access", "config", config.id)
    db.flush()
    return config


def update_config(db: Session, config: Config, form: ConfigForm) -> None:
    for column, value in _checked_values(db, form, current_program=config.program).items():
        setattr(config, column, value)
    db.flush()


def delete_config(db: Session, config: Config) -> None:
    """Delete an unused config and the permission rows that named it."""
    if is_used(db, config.id):
        raise ConfigError("cannot delete a config that has been used")
    forget_object(db, "config", config.id)
    db.delete(config)
    db.flush()
