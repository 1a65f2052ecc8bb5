"""Passwords from the environment or a command, never from logs.

The value is returned to the caller and nowhere else; error messages name the
variable or command that failed, never what it printed.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from nudge.errors import UserError


def resolve(where: str, inline: str = "", env: str = "", command: str = "") -> str | None:
    """The secret configured at `where` (e.g. `smtp`), or None when none is configured."""
    if inline:
        return inline
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UserError(f"{where}.password_env: environment variable {env} is not set")
        return value
    if command:
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise UserError(f"{where}.password_command: could not run it: {type(e).__name__}") from None
        if done.returncode != 0:
            raise UserError(f"{where}.password_command: exited with status {done.returncode}")
        value = done.stdout.rstrip("\r\n")
        if not value:
            raise UserError(f"{where}.password_command: printed nothing")
        return value
    return None
