"""gunicorn settings, read from the working directory by every `gunicorn` started here (the
Dockerfile, docker-compose.yml, bench/). Command-line flags still win.

Garbage collection: a worker holds the whole Django project (a few hundred thousand objects
that live as long as the process). Python's full collections walk all of them every few hundred
requests, a pause of tens of milliseconds that shows up as the slowest bookings of a burst
(docs/PERFORMANCE.md). Once the application is loaded, `gc.freeze()` moves those objects out of
the collector's sight, and a higher first threshold makes the cheap young collections rarer.
Reference cycles made by requests are still collected.
"""

import gc


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 20, 20)
