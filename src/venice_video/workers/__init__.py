"""Many machines, one key, one budget: workers sharing a PostgreSQL journal.

Submitters (`venice-video batch FILE --detach`, `venice-video story render FILE --detach`, any
program through `WorkQueue`) price each job and record it, with its budget reservations, in
the shared journal. Workers (`venice-video worker`, on any number of machines) take the jobs
through procrastinate and drive each one through the SDK's safe lifecycle, sharing the key's
rate limits and saving the files to a shared folder. See `docs/teams.md`.

Needs the `[postgres]` extra.
"""

from ._fleet import (
    BudgetExceededError,
    BudgetStatus,
    Fleet,
    LeaseInfo,
    Submitted,
    WorkerInfo,
    WorkItem,
)
from ._ratelimit import (
    RequestLimiter,
    SharedLimiter,
    SharedRateLimits,
    SharedRatePolicy,
    attach_shared_limits,
    fingerprint,
)
from ._stories import StorySubmission, SubmittedShot
from ._submit import WorkQueue
from ._worker import WorkerConfig, run_worker

__all__ = [
    "BudgetExceededError",
    "BudgetStatus",
    "Fleet",
    "LeaseInfo",
    "RequestLimiter",
    "SharedLimiter",
    "SharedRateLimits",
    "SharedRatePolicy",
    "StorySubmission",
    "Submitted",
    "SubmittedShot",
    "WorkItem",
    "WorkQueue",
    "WorkerConfig",
    "WorkerInfo",
    "attach_shared_limits",
    "fingerprint",
    "run_worker",
]
