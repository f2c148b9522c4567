"""News that admins post for users: which ones a user still has to see."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import UserPreference
from .models import Notification


def active_notifications(db: Session, user_id: int | None, today: dt.date | None = None) -> list[Notification]:
    """Unexpired news, minus those the user has already opened."""
    today = today or dt.date.today()
    query = select(Notification).where(
        or_(Notification.expiration.is_(None), Notification.expiration >= today)
    ).order_by(Notification.id)
    if user_id is not None:
        seen = select(UserPreference.val).where(
            UserPreference.user_id == user_id, UserPreference.preference == "mail",
            UserPreference.val.is_not(None),
        )
        read_ids = {int(v) for v in db.scalars(seen) if str(v).isdigit()}
        return [n for n in db.scalars(query) if n.id not in read_ids]
    return list(db.scalars(query))


def as_legacy_dict(notification: Notification) -> dict:
    return {
        "notification": {
            "id": notification.id, "creator": notification.creator, "title": notification.title,
            "message_content": notification.message_content, "message_type": notification.message_type,
            "priority": notification.priority,
            "expiration": notification.expiration.isoformat() if notification.expiration else None,
            "creation_datetime": notification.creation_datetime.strftime("%Y-%m-%d %H:%M:%S")
            if notification.creation_datetime else None,
        },
        "user_preference": {"val": None},
    }
