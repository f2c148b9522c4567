"""What a fresh install holds: the rows web2py's first-run form created.

Groups `admin` and `public` with their permissions, the config classifications,
the eight default vidjil-algo configs and the public tag list. Idempotent: each
part is added only when missing, so `initdb` can run on every upgrade.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Group
from ..auth.services import ADMIN_ROLE, PUBLIC_ROLE, grant, group_by_role
from ..sample_sets.models import GroupTag, Tag
from .models import Classification, Config

CLASSIFICATIONS = [
    ("Human V(D)J recombinations", "Analysis with vidjil-algo of human TR/IG recombinations"),
    ("Other recombinations", "Analysis with vidjil-algo of human non-V(D)J recombinations"),
    ("Analysis with/for other software",
     "Analysis that use other repertoire software or generate with vidjil-algo compatible output formats"),
    ("Other species",
     "Analysis with vidjil-algo of V(D)J recombinations for other species. "
     "Contact us at support@vidjil.org should you need other species."),
    ("Experimental configs",
     '"Experimental analyses, under development,may evolve without notice.'),
    ("Old configs, do not use",
     '"Old configurations. We do not recommend to use them. Should you need something, '
     "contact us at  support@vidijl.org"),
]

# (name, command, fuse_command, info, classification index starting at 1)
CONFIGS = [
    ("default + extract reads",
     "-c clones -z 100 -r 1 -g germline/homo-sapiens.g -e 1 -2 -d -w 50 -U ", "-t 100",
     'Same as the default "multi+inc+xxx" (multi-locus, with some incomplete/unusual/unexpected '
     'recombinations), and extract analyzed reads in the "out" temporary directory.', 1),
    ("multi+inc+xxx", "-c clones -z 100 -r 1 -g germline/homo-sapiens.g -e 1 -2 -d -w 50 ", "-t 100",
     "multi-locus, with some incomplete/unusual/unexpected recombinations", 1),
    ("multi+inc", "-c clones -z 100 -r 1 -g germline/homo-sapiens.g -e 1 -w 50 ", "-t 100",
     "multi-locus, with some incomplete/unusual recombinations", 1),
    ("multi", "-c clones -z 100 -r 1 -g germline/homo-sapiens.g:IGH,IGK,IGL,TRA,TRB,TRG,TRD -e 1 -d -w 50 ",
     "-t 100", "multi-locus, only complete recombinations", 2),
    ("TRG", "-c clones -z 100 -r 1 -g germline/homo-sapiens.g:TRG ", "-t 100", "TRG, VgJg", 2),
    ("IGH", "-c clones -w 60 -d -z 100 -r 1 -g germline/homo-sapiens.g:IGH ", "-t 100", "IGH, Vh(Dh)Jh", 2),
    ("Clonality", "-c clones -z 100 -r 1 -g germline/homo-sapiens.g -e 1 -2 -w 90 -y all --no-airr",
     "-t 100 -d lenSeqAverage --overlaps",
     "incomplete germlines + larger window (90bp), thus 20bp more on each side. "
     "This configuration is advised for studies on IGH clonality", 1),
    ("Export all clones (AIRR)",
     "-c clones -y all -z all -g germline/homo-sapiens.g -e 1 -2 -d -w 50 -r 5 --no-vidjil", "-t 100",
     "Export all clones in the tabular AIRR format. The results can not be browsed online. "
     "See http://www.vidjil.org/doc/vidjil-algo/#airr-tsv-output", 3),
]

TAGS = (
    "ALL T-ALL B-ALL pre-B-ALL pro-B-ALL mature-B-ALL CML HCL MZL T-PLL CLL LGL lymphoma MCL "
    "NHL HL FL DLBCL WM MAG MM diagnosis MRD relapse CR deceased pre-BMT post-BMT pre-SCT "
    "post-SCT dilution standard QC EuroMRD marrow blood repertoire TIL CAR-T scFv FR1 FR2 FR3 "
    "TRA TRB TRG TRD IGH IGK KDE IGL IKAROS BCR-ABL TEL-AML1 E2A-PBX BCL2 PAX5"
).split()

ADMIN_ACCESS_TABLES = ("sample_set", "patient", "run", "generic", "config", "pre_process", "auth_group")
ADMIN_ADMIN_TABLES = ("sample_set", "patient", "generic", "run", "auth_group", "config", "pre_process")
ADMIN_READ_TABLES = ("sample_set", "patient", "run", "generic", "auth_group", "config", "pre_process")


def _ensure_group(db: Session, role: str, description: str | None) -> Group:
    group = group_by_role(db, role)
    if group is None:
        group = Group(role=role, description=description)
        db.add(group)
        db.flush()
    return group


def insert_initial_data(db: Session) -> dict[str, int]:
    """Add what is missing of a fresh install; return how many rows of each kind were added."""
    added = {"groups": 0, "classifications": 0, "configs": 0, "tags": 0}
    had_admin = group_by_role(db, ADMIN_ROLE) is not None
    had_public = group_by_role(db, PUBLIC_ROLE) is not None
    admin = _ensure_group(db, ADMIN_ROLE, None)
    public = _ensure_group(db, PUBLIC_ROLE, "everybody")
    added["groups"] = (not had_admin) + (not had_public)

    if not had_admin:
        for table in ADMIN_ACCESS_TABLES:
            grant(db, admin.id, "access", table, 0)
        for table in ADMIN_ADMIN_TABLES:
            grant(db, admin.id, "admin", table, 0)
        for table in ADMIN_READ_TABLES:
            grant(db, admin.id, "read", table, 0)
        grant(db, admin.id, "create", "sample_set", 0)
        grant(db, admin.id, "create", "auth_group", 0)
        grant(db, admin.id, "create_config", "config", 0)
        grant(db, admin.id, "create", "pre_process", 0)
        grant(db, admin.id, "impersonate", "auth_user", 0)

    classification_ids: list[int] = []
    if db.scalar(select(Classification.id).limit(1)) is None:
        for name, info in CLASSIFICATIONS:
            row = Classification(name=name, info=info)
            db.add(row)
            db.flush()
            classification_ids.append(row.id)
        added["classifications"] = len(CLASSIFICATIONS)

    if db.scalar(select(Config.id).limit(1)) is None:
        for name, command, fuse_command, info, class_index in CONFIGS:
            classification = classification_ids[class_index - 1] if classification_ids else None
            row = Config(name=name, program="vidjil", command=command, fuse_command=fuse_command,
                         info=info, classification=classification)
            db.add(row)
            db.flush()
            grant(db, public.id, "access", "config", row.id)
        added["configs"] = len(CONFIGS)
    if not had_public:
        grant(db, public.id, "read", "config", 0)
        grant(db, public.id, "read", "pre_process", 0)

    if db.scalar(select(Tag.id).limit(1)) is None:
        for name in TAGS:
            tag = Tag(name=name)
            db.add(tag)
            db.flush()
            db.add(GroupTag(group_id=public.id, tag_id=tag.id))
        added["tags"] = len(TAGS)
    db.flush()
    return added
