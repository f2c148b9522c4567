"""`#word` tags in info texts: parsing, registering, and the links the browser follows."""
from __future__ import annotations

import re
from typing import Iterable

from markupsafe import Markup, escape
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import GroupTag, Tag, TagRef

TAG_PREFIX = "#"
_TAG = re.compile(r"(?<![\w#])#([\w-]+)", re.UNICODE)


def parse_tags(text: str | None) -> list[str]:
    """Tag names (without `#`) in order of first appearance, case kept."""
    seen: dict[str, str] = {}
    for name in _TAG.findall(text or ""):
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _find_or_create(db: Session, name: str) -> Tag:
    tag = db.scalars(select(Tag).where(func.lower(Tag.name) == name.lower()).limit(1)).first()
    if tag is None:
        tag = Tag(name=name)
        db.add(tag)
        db.flush()
    return tag


def register_tags(db: Session, text: str | None, table_name: str, record_id: int, group_id: int | None) -> list[Tag]:
    """Replace the tags of one object (patient/run/generic detail id, or sequence_file id)."""
    db.execute(delete(TagRef).where(TagRef.table_name == table_name, TagRef.record_id == record_id))
    tags = [_find_or_create(db, name) for name in parse_tags(text)]
    for tag in tags:
        db.add(TagRef(tag_id=tag.id, table_name=table_name, record_id=record_id))
        if group_id is not None:
            known = db.scalar(select(GroupTag.id).where(GroupTag.group_id == group_id, GroupTag.tag_id == tag.id))
            if known is None:
                db.add(GroupTag(group_id=group_id, tag_id=tag.id))
    db.flush()
    return tags


def tags_for_groups(db: Session, group_ids: Iterable[int], public_group_id: int | None) -> dict[int, list[dict]]:
    """Autocompletion lists: each group's tags plus the public group's."""
    group_ids = [int(g) for g in group_ids]
    wanted = set(group_ids) | ({public_group_id} if public_group_id else set())
    rows = db.execute(
        select(GroupTag.group_id, Tag.id, Tag.name).join(Tag, Tag.id == GroupTag.tag_id)
        .where(GroupTag.group_id.in_(wanted)).order_by(Tag.name)
    ).all() if wanted else []
    public = [{"id": tid, "name": name} for gid, tid, name in rows if gid == public_group_id]
    result: dict[int, list[dict]] = {}
    for group_id in group_ids:
        own = [{"id": tid, "name": name} for gid, tid, name in rows if gid == group_id and gid != public_group_id]
        merged = {t["id"]: t for t in own + public}
        result[group_id] = sorted(merged.values(), key=lambda t: t["name"].lower())
    return result


def tag_links(text: str | None, sample_type: str, target: str = "/sample_set/all") -> Markup:
    """Info text, escaped, with each `#tag` turned into the link the browser binds (W24)."""
    text = text or ""
    out: list[str] = []
    last = 0
    for match in _TAG.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        name = match.group(1)
        out.append(
            '<a class="tag-link" href="{href}" data-sample-type="{type}" data-linkable-type="tag" '
            'data-linkable-target-param="filter" data-linkable-name="#{name}" '
            'onclick="event.preventDefault();event.stopPropagation();db.callLinkable($(this));">#{name}</a>'
            .format(href=escape(target), type=escape(sample_type), name=escape(name))
        )
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
