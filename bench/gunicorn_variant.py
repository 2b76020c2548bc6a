"""gunicorn settings for the benchmark's side-by-side A/B: the deployed settings
(./gunicorn.conf.py), with the variants named in BENCH_VARIANT (comma-separated, see
bench/variants.py) applied in every worker once the application is loaded. Only
`bench/bench_booking.py` starts it."""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_deployed = runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def post_worker_init(worker):
    sys.path.insert(0, str(ROOT / "bench"))
    import variants

    for name in filter(None, os.environ.get("BENCH_VARIANT", "").split(",")):
        variants.apply(name, worker)
    _deployed["post_worker_init"](worker)
