"""Every model, imported once so that the metadata is complete (Alembic, tests)."""
from .admin.models import Classification, Config, Notification  # noqa: F401
from .auth.models import (  # noqa: F401
    AuthCas, AuthEvent, Group, GroupAssoc, Membership, Permission, User, UserLog,
    UserPreference, WebSession,
)
from .db.meta import Base, metadata  # noqa: F401
from .files.models import PreProcess, SampleSetMembership, SequenceFile  # noqa: F401
from .jobs.models import SchedulerRun, SchedulerTask, SchedulerTaskDeps, SchedulerWorker  # noqa: F401
from .results.models import AnalysisFile, FusedFile, ResultsFile  # noqa: F401
from .sample_sets.models import (  # noqa: F401
    Generic, GroupTag, Patient, Run, SampleSet, Tag, TagRef,
)
