"""Benchmark: the daemon at rest, and how fast `nudge --help` answers.

Starts `nudge run` on a store with 5,000 synced contacts (a files source), waits
for the start-up sync, then watches it idle for 60 s: CPU seconds used and RSS
from /proc. Targets (bench/README.md): RSS < 80 MB, idle CPU near zero, --help < 0.3 s.

    .venv/bin/python bench/daemon.py [--contacts 5000] [--idle 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders import vcard  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def help_time(runs: int = 7) -> tuple[float, float]:
    exe = Path(sys.executable).with_name("nudge")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()

    median, best = help_time()
    print(f"nudge --help: median {median * 1000:.0f} ms, best {best * 1000:.0f} ms (target < 300 ms)")

    with tempfile.TemporaryDirectory(prefix="nudge-bench-daemon-") as tmp:
        root = Path(tmp)
        cards = [
            vcard(
                f"p{i}",
                f"Person {i}",
                emails=(f"p{i}@example.com",),
                categories=("top100",) if i < 100 else (),
            )
            for i in range(args.contacts)
        ]
        (root / "contacts.vcf").write_text("".join(cards))
        config = root / "config.toml"
        config.write_text(
            f'timezone = "UTC"\ndatabase_url = "sqlite:///{root / "nudge.db"}"\n'
            f'maildir = "{root / "Maildir"}"\n'
            '[digest]\ntime = "07:30"\n[sync]\ninterval = 30\n'
            f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{root / "contacts.vcf"}"]\n'
        )
        log = root / "daemon.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "nudge", "-v", "--config", str(config), "run"], stdout=out, stderr=out
            )
            try:
                started = time.monotonic()
                while "book:" not in log.read_text():
                    if proc.poll() is not None or time.monotonic() - started > 300:
                        print(log.read_text())
                        return 1
                    time.sleep(0.2)
                synced = time.monotonic() - started
                print(f"start-up sync of {args.contacts} contacts: {synced:.1f} s; idle {args.idle:.0f} s")
                before = cpu_seconds(proc.pid)
                time.sleep(args.idle)
                idle_cpu = cpu_seconds(proc.pid) - before
                mem = memory(proc.pid)
            finally:
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=30)
    print(f"idle CPU: {idle_cpu:.2f} s over {args.idle:.0f} s ({100 * idle_cpu / args.idle:.2f} %)")
    print(f"RSS at rest: {mem['VmRSS']:.0f} MB, peak {mem['VmHWM']:.0f} MB (target < 80 MB at rest)")
    print(f"SIGTERM: exit status {code}")
    ok = median < 0.3 and mem["VmRSS"] < 80 and idle_cpu / args.idle < 0.01 and code == 0
    print("targets:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
