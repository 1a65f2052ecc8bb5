"""One nudge sync in a fresh process, for bench/sync.py: figures as JSON on the last line.

Its own script, so that the measured process holds what `nudge sync` would and
nothing of the bench (pytest and the test servers, which bench/sync.py imports,
are 10 MB).

    python bench/sync_child.py URL DB first|noop USER PASSWORD
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.realistic import ME_EMAILS, ME_NAME  # noqa: E402

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM. `ru_maxrss` is not it: Linux carries it across fork+exec,
    so a child of this (large: it holds the generated and served data) bench reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, db: Path, phase: str, user: str, password: str) -> dict[str, Any]:
    """One nudge sync in this process, as `nudge sync` runs it: figures as JSON."""
    t0 = time.perf_counter()
    from nudge import config, service
    from nudge.sources import load_source

    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{db}",
            "maildir": str(db.parent / "Maildir"),
            "me": {"name": ME_NAME, "emails": list(ME_EMAILS), "region": "DE"},
            "sources": [
                {
                    "type": t,
                    "name": t,
                    "url": url + "/",
                    "username": user,
                    "password": password,
                    "timeout": 600,
                }
                for t in ("carddav", "caldav")
            ],
        }
    )
    engine = service.open_store(settings)
    sources = [load_source(cfg) for cfg in settings.sources]
    imported = time.perf_counter() - t0
    t, cpu = time.perf_counter(), own_cpu()
    reports = service.sync_all(engine, settings, NOW, sources=sources)
    took, cpu = time.perf_counter() - t, own_cpu() - cpu
    again = []  # the daemon's case: same process, discovery remembered
    for _ in range(3 if phase == "noop" else 0):
        t = time.perf_counter()
        service.sync_all(engine, settings, NOW)
        again.append(time.perf_counter() - t)
    methods: dict[str, int] = {}
    for src in sources:
        for method, _ in getattr(src, "requests", []):
            methods[method] = methods.get(method, 0) + 1
    return {
        "phase": phase,
        "sync_s": took,
        "again_s": sorted(again)[len(again) // 2] if again else None,
        "import_s": imported,
        "lines": [r.line() for r in reports],
        "ok": all(r.ok for r in reports),
        "requests": methods,
        "reports_sync": sum(1 for s in sources for m, _ in getattr(s, "requests", []) if m == "REPORT"),
        "rss_mb": peak_rss_mb(),
        "cpu_s": cpu,
    }


if __name__ == "__main__":
    url, db, phase, user, password = sys.argv[1:6]
    print(json.dumps(child(url, Path(db), phase, user, password)))
