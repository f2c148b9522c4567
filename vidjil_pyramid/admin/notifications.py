"""News that admins post for users: which ones a user still has to see."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
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


# --- writing news (admin pages) ----------------------------------------------------------------

MESSAGE_TYPES = {"login": "Login page", "header": "Header"}
PRIORITIES = {"info": "Information", "urgent": "Urgent"}
READ_MARK = "mail"  # the user_preference name web2py used for "this news was opened"
TITLE_MAX = 512


class NotificationError(ValueError):
    """A news form that cannot be saved; the message lists every problem."""


@dataclass(frozen=True)
class NotificationForm:
    title: str
    message_content: str
    message_type: str
    priority: str
    expiration: str

    @classmethod
    def from_params(cls, params) -> "NotificationForm":
        return cls(**{name: (params.get(name) or "").strip() for name in
                      ("title", "message_content", "message_type", "priority", "expiration")})


def _checked(form: NotificationForm) -> dt.date:
    """The expiration date of a valid form; NotificationError listing every problem otherwise."""
    errors: list[str] = []
    if not form.title:
        errors.append("title needed")
    elif len(form.title) > TITLE_MAX:
        errors.append(f"title too long (at most {TITLE_MAX} characters)")
    if not form.message_content:
        errors.append("message content needed")
    if form.message_type not in MESSAGE_TYPES:
        errors.append("type needed (" + " or ".join(MESSAGE_TYPES) + ")")
    if form.priority not in PRIORITIES:
        errors.append("priority needed (" + " or ".join(PRIORITIES) + ")")
    expiration = None
    if not form.expiration:
        errors.append("expiration date required")
    elif not re.fullmatch(r"\d{4}-\d{2}-\d{2}", form.expiration):
        errors.append("date (wrong format, expected yyyy-mm-dd)")
    else:
        try:
            expiration = dt.date.fromisoformat(form.expiration)
        except ValueError:
            errors.append("date (no such day)")
    if errors:
        raise NotificationError(", ".join(errors))
    return expiration


def create_notification(db: Session, form: NotificationForm, creator_id: int,
                        now: dt.datetime | None = None) -> Notification:
    """Store a news item (its Markdown source: it is escaped when rendered, never trusted)."""
    expiration = _checked(form)
    row = Notification(title=form.title, message_content=form.message_content, message_type=form.message_type,
                       priority=form.priority, expiration=expiration, creator=creator_id,
                       creation_datetime=(now or dt.datetime.now()).replace(microsecond=0))
    db.add(row)
    db.flush()
    return row


def update_notification(db: Session, notification: Notification, form: NotificationForm) -> None:
    """Change a news item; everybody will see it again as unread."""
    notification.expiration = _checked(form)
    notification.title = form.title
    notification.message_content = form.message_content
    notification.message_type = form.message_type
    notification.priority = form.priority
    _forget_read_marks(db, notification.id)
    db.flush()


def delete_notification(db: Session, notification: Notification) -> None:
    _forget_read_marks(db, notification.id)
    db.delete(notification)
    db.flush()


def _forget_read_marks(db: Session, notification_id: int) -> None:
    db.execute(delete(UserPreference).where(UserPreference.preference == READ_MARK,
                                            UserPreference.val == str(notification_id)))


def mark_read(db: Session, user_id: int, notification_id: int) -> bool:
    """Remember that the user opened this news (it stops being pushed to them); True if new."""
    known = db.scalar(select(UserPreference.id).where(
        UserPreference.user_id == user_id, UserPreference.preference == READ_MARK,
        UserPreference.val == str(notification_id)).limit(1))
    if known is not None:
        return False
    db.add(UserPreference(user_id=user_id, preference=READ_MARK, val=str(notification_id)))
    db.flush()
    return True


def all_notifications(db: Session) -> list[Notification]:
    """Every news item, newest first (the news page)."""
    return list(db.scalars(select(Notification).order_by(Notification.id.desc())))
