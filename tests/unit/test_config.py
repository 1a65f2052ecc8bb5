"""The config schema: lookup order, every problem at once, the example covers every key."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from nudge import config
from nudge.channels.smtp import SmtpOptions
from nudge.errors import ConfigError
from nudge.sources.files import FilesOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def _fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted names of every field, descending into nested sections."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        names.add(dotted)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= _fields(candidate, dotted + ".")
    return names


def test_example_config_loads() -> None:
    settings = config.validate(tomllib.loads(EXAMPLE.read_text()), str(EXAMPLE))
    assert settings.digest.daily_size == 5
    [mail] = settings.delivery
    assert mail.type == "smtp" and SmtpOptions.model_validate(mail.options).effective_port == 587
    assert settings.sources[0].name == "address-book"


def test_example_config_names_every_field() -> None:
    text = EXAMPLE.read_text()
    keys = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.MULTILINE))
    sections = set(re.findall(r"^\[+([a-z_.0-9]+)\]+", text, re.MULTILINE))
    leaf_names = {f.rsplit(".", 1)[-1] for f in _fields(config.Settings)}
    leaf_names |= set(config.Tier.model_fields) | set(config.SourceConfig.model_fields)
    leaf_names |= set(FilesOptions.model_fields)
    missing = sorted(n for n in leaf_names if n not in keys and not any(n in s.split(".") for s in sections))
    assert missing == []


def test_example_defaults_match_schema() -> None:
    """Where the example shows a section's default, it is the schema's default."""
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = config.Settings()
    assert data["digest"]["time"] == defaults.digest.time
    assert data["digest"]["daily_size"] == defaults.digest.daily_size
    assert data["touches"]["half_life_days"] == defaults.touches.half_life_days
    assert data["touches"]["weights"] == defaults.touches.weights.model_dump()
    assert data["tiers"]["top100"]["cadence_days"] == defaults.tiers["top100"].cadence_days


def test_every_problem_reported_at_once() -> None:
    bad = {
        "timezone": "Mars/Olympus",
        "digest": {"daily_size": 0, "time": "7.30", "workdays": ["mon", "funday"], "colour": "red"},
        "touches": {"half_life_days": -1},
        "smtp": {"host": "x", "security": "ssl", "password": "a", "password_env": "B"},
        "sources": [{"type": "files"}, {"type": "nosuch"}],
    }
    with pytest.raises(ConfigError) as caught:
        config.validate(bad)
    text = "\n".join(caught.value.problems)
    for expected in (
        "timezone: unknown time zone 'Mars/Olympus'",
        "digest.daily_size:",
        "digest.time: use HH:MM",
        "digest.workdays:",
        "digest.colour: unknown key",
        "touches.half_life_days:",
        "smtp.security:",
        "sources[0].paths: Field required",
        "sources[1].type: unknown source type 'nosuch'",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_one_secret_only() -> None:
    with pytest.raises(ConfigError) as caught:
        config.validate({"smtp": {"host": "x", "password_env": "A", "password_command": "echo b"}})
    assert any("give only one of password_env, password_command" in p for p in caught.value.problems)


def test_source_names_default_and_must_be_unique(tmp_path: Path) -> None:
    vcf = tmp_path / "a.vcf"
    vcf.write_text("")
    settings = config.validate({"sources": [{"type": "files", "paths": [str(vcf)]}]})
    assert settings.sources[0].name == "files1"
    with pytest.raises(ConfigError) as caught:
        config.validate({"sources": [{"type": "memory", "name": "x"}, {"type": "memory", "name": "x"}]})
    assert any("'x' is used twice" in p for p in caught.value.problems)


def test_unknown_source_option_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.validate({"sources": [{"type": "files", "paths": ["a.vcf"], "pathz": ["b"]}]})
    assert "sources[0].pathz: unknown key" in caught.value.problems[0]


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[digest]\ndaily_size = 3\n")
    env = tmp_path / "env.toml"
    env.write_text("[digest]\ndaily_size = 4\n")
    xdg = config.default_config_path()
    xdg.parent.mkdir(parents=True)
    xdg.write_text("[digest]\ndaily_size = 6\n")
    assert config.load().digest.daily_size == 6
    monkeypatch.setenv("NUDGE_CONFIG", str(env))
    assert config.load().digest.daily_size == 4
    assert config.load(explicit).digest.daily_size == 3


def test_no_config_file_means_defaults() -> None:
    settings = config.load()
    assert settings.sources == []
    assert settings.database.startswith("sqlite:///")
    assert settings.database.endswith("nudge/nudge.db")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[digest\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(broken)


def test_inline_password_in_readable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[smtp]\nhost = "x"\npassword = "hunter2"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "chmod 600" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    path.chmod(0o600)
    assert config.load(path).smtp is not None


def test_region_and_workdays_normalised() -> None:
    settings = config.validate({"me": {"region": "de"}, "digest": {"workdays": ["Monday", "TUE"]}})
    assert settings.me.region == "DE"
    assert settings.digest.workdays == ["mon", "tue"]


def test_derived_addresses() -> None:
    settings = config.validate({"me": {"emails": ["a@example.com"]}})
    assert settings.recipient == "a@example.com"
    assert settings.sender == "a@example.com"
    settings = config.validate(
        {"me": {"emails": ["a@example.com"]}, "smtp": {"host": "h", "username": "bot@example.com"}}
    )
    assert settings.sender == "bot@example.com"


def test_local_zone_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Chicago")
    assert config.local_zone().key == "America/Chicago"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert config.local_zone().key == "UTC"


def test_config_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[digest]\ndaily_size = 'many'\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(path) in str(caught.value)
    assert os.fspath(path) == caught.value.path


def test_a_config_that_is_not_utf8_is_one_problem_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('[me]\nname = "Zoë"\n'.encode() + '[digest]\nto = "rené@example.com"\n'.encode("cp1252"))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.problems == ["line 4: not UTF-8 text (byte 0xe9); save the file as UTF-8"]
    assert caught.value.path == str(path)
    path.write_bytes(b"\xef\xbb\xbf" + '[me]\nname = "Zoë"\n'.encode())  # a BOM, as Notepad writes it
    assert config.load(path).me.name == "Zoë"


def test_values_of_the_wrong_type_are_errors_not_coerced() -> None:
    with pytest.raises(ConfigError) as caught:
        config.validate(
            {
                "smtp": {"host": "x", "port": "25"},
                "digest": {"daily_size": "5", "retry_delay": "60"},
                "replies": {"enabled": "yes"},
                "sources": [
                    {"type": "memory", "name": "m", "enabled": "no"},
                    {"type": "carddav", "url": "https://dav.example.com/", "timeout": "30"},
                ],
            }
        )
    text = "\n".join(caught.value.problems)
    for expected in (
        "smtp.port: Input should be a valid integer, not the text '25': write the number without quotes",
        "digest.daily_size: Input should be a valid integer",
        "digest.retry_delay: Input should be a valid number",
        "replies.enabled: Input should be a valid boolean, not the text 'yes': write true or false",
        "sources[0].enabled: Input should be a valid boolean",
        "sources[1].timeout: Input should be a valid number",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_what_toml_gives_for_numbers_and_tables_still_loads() -> None:
    settings = config.validate(
        {
            "sync": {"interval": 15},  # an int where a float is wanted
            "digest": {"retry_delay": 2.5, "time": "07:05"},
            "tiers": {"vip": {"cadence_days": 14, "groups": ["VIP"]}},
            "sources": [{"type": "carddav", "url": "https://dav.example.com/", "timeout": 30}],
        }
    )
    assert settings.sync.interval == 15.0 and settings.tiers["vip"].cadence_days == 14


def test_a_password_in_a_source_url_is_an_inline_password(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[sources]]\ntype = "carddav"\nname = "dav"\nurl = "https://bob:pa%40ss-9@dav.example.com/dav/"\n'
    )
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "chmod 600" in str(caught.value) and "sources[0].password" in str(caught.value)
    assert "pa%40ss-9" not in str(caught.value) and "pa@ss-9" not in str(caught.value)
    path.chmod(0o600)
    [source] = config.load(path).sources
    # The login leaves the URL, so no message that names the URL can carry the password.
    assert source.options["url"] == "https://dav.example.com/dav/"
    assert (source.options["username"], source.options["password"]) == ("bob", "pa@ss-9")


def test_a_password_in_the_database_url_is_an_inline_password(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('database_url = "postgresql+psycopg://nudge:db-s3cret@db.example.com/nudge"\n')
    path.chmod(0o640)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "database_url" in str(caught.value) and "db-s3cret" not in str(caught.value)
    path.chmod(0o600)
    assert config.load(path).database_url.endswith("@db.example.com/nudge")
