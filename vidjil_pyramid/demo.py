"""The demo's account and data: a patient, a run, a generic set and one sample file."""
from __future__ import annotations

import datetime as dt
import random
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth.services import (
    AccountError, NewUser, create_user, find_user_by_email, grant, group_by_role, personal_role, set_password,
)
from .files.models import SampleSetMembership, SequenceFile
from .files.storage import store_copy
from .sample_sets.models import Generic, Patient, Run, SampleSet

DEMO_FILE_NAME = "demo-lil-l3.fa"


@dataclass
class DemoSummary:
    email: str
    password_note: str
    data_note: str


def demo_reads(count: int = 200, seed: int = 7) -> str:
    """A small synthetic FASTA: a few clonotypes repeated with noise, deterministic."""
    rng = random.Random(seed)
    clones = ["".join(rng.choice("ACGT") for _ in range(rng.randint(150, 220))) for _ in range(6)]
    weights = [50, 25, 12, 6, 4, 3]
    lines = []
    for i in range(count):
        clone = rng.choices(clones, weights)[0]
        read = list(clone)
        for _ in range(rng.randint(0, 2)):
            read[rng.randrange(len(read))] = rng.choice("ACGT")
        lines.append(f">read_{i + 1}\n{''.join(read)}")
    return "\n".join(lines) + "\n"


def _ensure_admin(db: Session, email: str, password: str | None) -> tuple[int, str]:
    user = find_user_by_email(db, email)
    if user is None:
        chosen = password or secrets.token_urlsafe(12)
        user = create_user(db, NewUser(email=email, first_name="System", last_name="Administrator",
                                       password=chosen, admin=True))
        return user.id, chosen if password is None else "(as given)"
    if password:
        set_password(db, user, password)
        return user.id, "(as given)"
    return user.id, "(unchanged: use `vidjil-server user passwd` to reset it)"


def prepare_demo(db: Session, settings: dict, admin_email: str, admin_password: str | None) -> DemoSummary:
    try:
        admin_id, note = _ensure_admin(db, admin_email, admin_password)
    except AccountError as exc:
        from .cli import CliError

        raise CliError(str(exc)) from None
    if db.scalar(select(SampleSet.id).limit(1)) is not None:
        return DemoSummary(admin_email, note, "kept from the previous run")

    group = group_by_role(db, personal_role(admin_id))
    sets = {}
    for sample_type, detail in (
        ("patient", Patient(first_name="Jane", last_name="Demo", birth=dt.date(1961, 4, 12),
                            id_label="DEMO-1", info="Demo patient #diagnosis", creator=admin_id)),
        ("run", Run(name="RUN-DEMO", run_date=dt.date(2024, 1, 15), id_label="R1", info="Demo sequencing run",
                    sequencer="MiSeq", pcr="multiplex", creator=admin_id)),
        ("generic", Generic(name="Demo set", info="A set to group samples", creator=admin_id)),
    ):
        sample_set = SampleSet(sample_type=sample_type)
        db.add(sample_set)
        db.flush()
        detail.sample_set_id = sample_set.id
        db.add(detail)
        grant(db, group.id, "access", "sample_set", sample_set.id)
        sets[sample_type] = sample_set

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / DEMO_FILE_NAME
        source.write_text(demo_reads())
        stored, size = store_copy(source, settings["vidjil.upload_dir"], "sequence_file", "data_file")
    sequence_file = SequenceFile(filename=DEMO_FILE_NAME, info="diagnosis sample", sampling_date=dt.date(2024, 1, 10),
                                 size_file=size, provider=admin_id, pre_process_flag="COMPLETED", data_file=stored,
                                 network=False)
    db.add(sequence_file)
    db.flush()
    for sample_type in ("patient", "run"):
        db.add(SampleSetMembership(sample_set_id=sets[sample_type].id, sequence_file_id=sequence_file.id))
    db.flush()

    # The demo sample's analysis: queued now, run (and fused) by the in-process consumers.
    from .admin.models import Config
    from .jobs.dispatch import JobPublisher
    from .jobs.services import schedule_analysis

    data_note = "patient 'Jane Demo', run 'RUN-DEMO', set 'Demo set', one sample file"
    config = db.scalars(select(Config).where(Config.program == "vidjil").order_by(Config.id).limit(1)).first()
    if config is not None:
        schedule_analysis(db, JobPublisher.from_settings(None, settings), sequence_file.id, config.id)
        data_note += f", its analysis with config '{config.name}'"
    return DemoSummary(admin_email, note, data_note)
