"""Factories for test data: users, groups, rights, sets, samples, configs."""
from __future__ import annotations

import datetime as dt
import itertools
from typing import Iterable

from sqlalchemy.orm import Session

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.auth.models import Group, GroupAssoc
from vidjil_pyramid.auth.services import NewUser, add_membership, create_user, grant
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.sample_sets.models import DETAIL_MODELS, SampleSet

_counter = itertools.count(1)
PASSWORD = "Secret-123"


def make_user(db: Session, *, email: str | None = None, password: str = PASSWORD, admin: bool = False,
              first_name: str = "Test", last_name: str | None = None, groups: Iterable[Group] = ()):
    n = next(_counter)
    user = create_user(db, NewUser(
        email=email or f"user{n}@lab.test", first_name=first_name, last_name=last_name or f"User{n}",
        password=password, admin=admin,
    ))
    for group in groups:
        add_membership(db, user.id, group.id)
    db.flush()
    return user


def make_group(db: Session, role: str | None = None, *, rights: Iterable[str] = (),
               parent: Group | None = None, members: Iterable = ()) -> Group:
    group = Group(role=role or f"group{next(_counter)}", description="test group")
    db.add(group)
    db.flush()
    for right in rights:
        grant(db, group.id, right)
    if parent is not None:
        db.add(GroupAssoc(first_group_id=parent.id, second_group_id=group.id))
    for user in members:
        add_membership(db, user.id, group.id)
    db.flush()
    return group


def make_set(db: Session, sample_type: str = "patient", *, groups: Iterable[Group] = (), creator=None, **fields):
    sample_set = SampleSet(sample_type=sample_type)
    db.add(sample_set)
    db.flush()
    defaults = {
        "patient": {"first_name": "John", "last_name": f"Doe{sample_set.id}", "birth": dt.date(1970, 1, 2)},
        "run": {"name": f"RUN-{sample_set.id}", "run_date": dt.date(2024, 1, 2)},
        "generic": {"name": f"set-{sample_set.id}"},
    }[sample_type]
    detail = DETAIL_MODELS[sample_type](sample_set_id=sample_set.id, creator=getattr(creator, "id", None),
                                        **{**defaults, **fields})
    db.add(detail)
    for group in groups:
        grant(db, group.id, "access", "sample_set", sample_set.id)
    db.flush()
    return sample_set, detail


def make_config(db: Session, *, name: str | None = None, program: str = "vidjil", groups: Iterable[Group] = (),
                command: str = "-c clones -g germline/homo-sapiens.g ", fuse_command: str = "-t 100") -> Config:
    config = Config(name=name or f"config{next(_counter)}", program=program, command=command,
                    fuse_command=fuse_command, info="test config")
    db.add(config)
    db.flush()
    for group in groups:
        grant(db, group.id, "access", "config", config.id)
    db.flush()
    return config


def make_sequence_file(db: Session, *, sets: Iterable[SampleSet] = (), provider=None, **fields) -> SequenceFile:
    values = {"filename": "sample.fa", "info": "", "size_file": 0, "pre_process_flag": "COMPLETED",
              "provider": getattr(provider, "id", None)}
    values.update(fields)
    sequence_file = SequenceFile(**values)
    db.add(sequence_file)
    db.flush()
    for sample_set in sets:
        db.add(SampleSetMembership(sample_set_id=sample_set.id, sequence_file_id=sequence_file.id))
    db.flush()
    return sequence_file
