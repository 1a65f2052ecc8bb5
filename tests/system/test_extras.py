"""Installing only what a user needs: the extras, and what nudge says when one is missing.

The test environment has every extra installed (`.[test]` pulls in `[all]`). To
see nudge as a user who installed fewer, the real `nudge` command runs in a
subprocess whose interpreter cannot import some packages: a `sitecustomize`
on PYTHONPATH puts a finder first on `sys.meta_path` that raises
ModuleNotFoundError for them, exactly as a missing package does. That is a
test double for the environment; nudge's own code runs unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.builders import ME, vcard
from tests.system.test_readme import copy_checkout

ROOT = Path(__file__).resolve().parents[2]
NUDGE = str(Path(sys.executable).with_name("nudge"))

# Every module an extra brings, by what a user who did not install it would lack. Written out
# here rather than taken from nudge.extras.EXTRAS, so a module missing there is caught.
NOT_IN_CORE = (
    "requests",
    "lxml",
    "googleapiclient",
    "google",
    "google_auth_oauthlib",
    "google_auth_httplib2",
    "httplib2",
    "oauthlib",
    "requests_oauthlib",
    "imapclient",
    "keyring",
    "psycopg",
    "caldav",
    "niquests",
)

SITECUSTOMIZE = '''\
"""Test double: the modules named in NUDGE_TEST_BLOCK are not installed."""
import os
import sys

BLOCKED = tuple(m for m in os.environ.get("NUDGE_TEST_BLOCK", "").split(",") if m)


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
'''


def run(tmp_path: Path, blocked: tuple[str, ...], *args: str) -> tuple[int, str]:
    """The installed `nudge` command, in an interpreter without the `blocked` modules."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": str(site), "NUDGE_TEST_BLOCK": ",".join(blocked)}
    done = subprocess.run(
        [NUDGE, *args], capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path
    )
    return done.returncode, done.stdout + done.stderr


def write_config(tmp_path: Path, source: str = "", database: str = "") -> Path:
    (tmp_path / "contacts.vcf").write_text(
        vcard("ana", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
    )
    path = tmp_path / "config.toml"
    database = database or f"sqlite:///{tmp_path / 'nudge.db'}"
    path.write_text(
        f'timezone = "Europe/Berlin"\n'
        f'database_url = "{database}"\n'
        f'maildir = "{tmp_path / "Maildir"}"\n'
        f'[me]\nemails = ["{ME}"]\n'
        f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{tmp_path / "contacts.vcf"}"]\n{source}'
    )
    path.chmod(0o600)
    return path


def error_lines(code: int, out: str) -> list[str]:
    """A failed command's message: `nudge: ...`, then indented lines; no traceback."""
    assert code == 1, out
    assert "Traceback" not in out, out
    first, *rest = out.strip().splitlines()
    assert first.startswith("nudge: ") and all(line.startswith("  ") for line in rest), out
    return [first, *(line.strip() for line in rest)]


def test_the_core_install_is_enough_for_files_and_the_demo(tmp_path: Path) -> None:
    """No extra: --help, the demo, a files sync, the digest and doctor all work."""
    config = str(write_config(tmp_path))
    code, out = run(tmp_path, NOT_IN_CORE, "--help")
    assert code == 0 and "Usage" in out, out
    code, out = run(tmp_path, NOT_IN_CORE, "demo", "--dir", str(tmp_path / "demo"))
    assert code == 0 and "Traceback" not in out, out
    code, out = run(tmp_path, NOT_IN_CORE, "--config", config, "sync")
    assert code == 0 and "book" in out, out
    code, out = run(tmp_path, NOT_IN_CORE, "--config", config, "digest", "--dry-run")
    assert code == 0 and "Ana Ruiz" in out, out
    code, out = run(tmp_path, NOT_IN_CORE, "--config", config, "doctor")
    assert code == 0 and "[ok  ] source book" in out, out


SOURCES = {
    "google_contacts": '[[sources]]\ntype = "google_contacts"\nname = "g"\n',
    "gmail": '[[sources]]\ntype = "gmail"\nname = "mail"\n',
    "imap": '[[sources]]\ntype = "imap"\nname = "mail"\nhost = "imap.example.com"\n'
    'username = "ana"\npassword_env = "IMAP_PW"\n',
    "carddav": '[[sources]]\ntype = "carddav"\nname = "dav"\nurl = "https://dav.example.com/"\n'
    'username = "ana"\npassword_env = "DAV_PW"\n',
    "caldav": '[[sources]]\ntype = "caldav"\nname = "cal"\nurl = "https://dav.example.com/"\n'
    'username = "ana"\npassword_env = "DAV_PW"\n',
    "carddav+keyring": '[[sources]]\ntype = "carddav"\nname = "dav"\nurl = "https://dav.example.com/"\n'
    'username = "ana"\nkeyring_service = "nudge-dav"\n',
}


@pytest.mark.parametrize(
    ("source", "blocked", "extra", "key"),
    [
        ("google_contacts", "googleapiclient", "google", "type"),
        ("gmail", "google_auth_oauthlib", "google", "type"),
        ("imap", "imapclient", "imap", "type"),
        ("carddav", "lxml", "dav", "type"),
        ("caldav", "requests", "dav", "type"),
        ("carddav+keyring", "keyring", "keyring", "keyring_service"),
    ],
)
def test_a_source_without_its_extra_is_one_line_naming_it(
    tmp_path: Path, source: str, blocked: str, extra: str, key: str
) -> None:
    config = write_config(tmp_path, SOURCES[source])
    for command in ("sync", "contacts"):
        lines = error_lines(*run(tmp_path, (blocked,), "--config", str(config), command))
        [problem] = lines[1:]
        assert problem.startswith(f"sources[1].{key}: "), lines
        assert f"needs the Python package {blocked}, which is not installed here" in problem
        assert f"add nudge's [{extra}] extra: " in problem and " -m pip install " in problem
        assert problem.endswith(f"[{extra}]'"), problem


def test_doctor_says_which_extra_to_install(tmp_path: Path) -> None:
    config = write_config(tmp_path, SOURCES["google_contacts"] + SOURCES["imap"])
    code, out = run(tmp_path, ("googleapiclient", "imapclient"), "--config", str(config), "doctor")
    assert code == 1 and "Traceback" not in out, out
    assert "[FAIL] config: sources[1].type: google_contacts needs the Python package googleapiclient" in out
    assert "sources[2].type: imap needs the Python package imapclient" in out
    [fix] = [line.strip() for line in out.splitlines() if line.strip().startswith("fix:")]
    assert " -m pip install " in fix and fix.endswith("[google,imap]'"), out


def test_a_postgresql_store_without_its_driver_names_the_extra(tmp_path: Path) -> None:
    config = write_config(tmp_path, database="postgresql+psycopg://nudge:pg-s3cret@db.example.com/nudge")
    lines = error_lines(*run(tmp_path, ("psycopg",), "--config", str(config), "contacts"))
    assert "needs the Python package psycopg, which is not installed" in lines[0]
    assert "add nudge's [postgres] extra: " in lines[0] and lines[0].endswith("[postgres]'")
    assert "pg-s3cret" not in lines[0]


def test_auth_google_without_the_extra_names_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    secrets = tmp_path / "client.json"
    secrets.write_text("{}")
    lines = error_lines(
        *run(
            tmp_path,
            ("google_auth_oauthlib",),
            "--config",
            str(config),
            "auth",
            "google",
            "--client-secrets",
            str(secrets),
            "--no-browser",
        )
    )
    assert lines[0].startswith("nudge: nudge auth google needs the Python package google_auth_oauthlib")
    assert lines[0].endswith("[google]'")


@pytest.fixture(scope="module")
def wheel_metadata(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[str]], list[str]]:
    """The METADATA headers of a wheel built from this checkout (offline, with the venv's setuptools)."""
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "nudge"
    # Build from a copy: building in place would leave build/ and an egg-info in the checkout.
    copy_checkout(src)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    offline = ("--no-deps", "--no-index", "--no-build-isolation")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", *offline, "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    [wheel] = out.glob("nudge_contacts-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(z.read(meta).decode())
    headers: dict[str, list[str]] = {}
    for k, v in message.items():
        headers.setdefault(k, []).append(v)
    return headers, names


def test_the_distribution_is_ours_with_its_licence(
    wheel_metadata: tuple[dict[str, list[str]], list[str]],
) -> None:
    headers, names = wheel_metadata
    assert headers["Name"] == ["nudge-contacts"]
    assert headers["License-Expression"] == ["MIT"]
    assert headers["License-File"] == ["LICENSE"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [c for c in headers.get("Classifier", []) if c.startswith("License ::")]
    urls = dict(u.split(", ", 1) for u in headers["Project-URL"])
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())


def test_each_source_package_is_an_extra(wheel_metadata: tuple[dict[str, list[str]], list[str]]) -> None:
    headers, _ = wheel_metadata
    requires = headers["Requires-Dist"]
    core = {r.split(";")[0].split(">")[0].split("[")[0].strip() for r in requires if ";" not in r}
    assert not core & {
        "google-api-python-client",
        "google-auth",
        "imapclient",
        "lxml",
        "requests",
        "keyring",
        "caldav",
        "psycopg",
    }
    assert {"sqlmodel", "vobject", "icalendar", "typer"} <= core

    def of(extra: str) -> set[str]:
        return {r.split(";")[0].strip() for r in requires if f'extra == "{extra}"' in r}

    assert set(headers["Provides-Extra"]) >= {"dav", "google", "imap", "keyring", "postgres", "all", "test"}
    assert "google-api-python-client>=2.130" in of("google")
    assert "imapclient>=3.0" in of("imap")
    assert {"lxml>=5.0", "requests>=2.31"} <= of("dav")
    assert "psycopg[binary]>=3.1" in of("postgres")
    assert "nudge-contacts[dav,google,imap,keyring,postgres]" in of("all")
    assert "nudge-contacts[all]" in of("test")
