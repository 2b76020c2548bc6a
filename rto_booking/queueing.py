"""Start Celery tasks only once the data they read has been committed.

`enqueue_on_commit` is the normal way to start a task. A task published inside a transaction
can run before the commit (and read nothing) or after a rollback (and act on rows that never
existed). Publishing can also fail when Redis is away: that is logged, never raised into the
request, because every task here has a periodic sweep that finds its work in PostgreSQL.
"""

import logging

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_now(task: Task, *args, **kwargs) -> bool:
    """Publish `task` immediately; return False (and log) if the broker cannot be reached."""
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except Exception as error:
        # One line, not a traceback: while Redis is away every publish fails the same way.
        logger.warning(
            "Could not publish %s%r (%s: %s); the periodic sweep will pick the work up.",
            task.name,
            args,
            type(error).__name__,
            error,
        )
        return False
    return True


def enqueue_on_commit(task: Task, *args, **kwargs) -> None:
    """Publish `task` after the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: enqueue_now(task, *args, **kwargs), robust=True)


def enqueue_named_on_commit(task_name: str, *args, **kwargs) -> None:
    """As `enqueue_on_commit`, for a task looked up by its name in the Celery app's registry
    when it is published: for a service that the tasks module itself imports (directly or
    through another service), so the two do not import each other in a circle."""
    from celery import current_app

    transaction.on_commit(
        lambda: enqueue_now(current_app.tasks[task_name], *args, **kwargs), robust=True
    )
