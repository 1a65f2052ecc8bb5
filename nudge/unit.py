"""The systemd user unit, and installing it with the right ExecStart.

`systemd/nudge.service` in the repository is this text for a pipx-style
install; a test keeps the two the same.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

UNIT_NAME = "nudge.service"
REPO_EXEC = "%h/.local/bin/nudge run"

TEMPLATE = """\
[Unit]
Description=nudge: relationship-first contact nudges (sync, and a digest each morning)

[Service]
Type=notify
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=30
WatchdogSec=300
TimeoutStopSec=60
Environment=PYTHONUNBUFFERED=1
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=default.target
"""


def unit_text(exec_start: str) -> str:
    return TEMPLATE.format(exec_start=exec_start)


def installed_exec(config_path: str | None = None) -> str:
    """`nudge [--config PATH] run` for this installation: its console script, else `python -m nudge`."""
    script = Path(sys.executable).with_name("nudge")
    found = shutil.which("nudge")
    if script.exists():
        command = str(script)
    elif found:
        command = str(Path(found).resolve())
    else:
        command = f"{sys.executable} -m nudge"
    if config_path:
        command += f" --config {Path(config_path).expanduser().resolve()}"
    return f"{command} run"


def unit_dir() -> Path:
    from nudge import config_dir

    return config_dir().parent / "systemd" / "user"


def systemctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """Run `systemctl --user ...`; None when systemctl is not there."""
    if shutil.which("systemctl") is None:
        return None
    return subprocess.run(
        ["systemctl", "--user", *args], capture_output=True, text=True, check=False, timeout=30
    )
