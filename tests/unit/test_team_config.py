"""A team's config: the main file names a folder, each users.d/NAME.toml is one user's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudge import config
from nudge.config import team
from nudge.errors import ConfigError, UserError


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def main(tmp_path: Path) -> Path:
    return write(
        tmp_path / "config.toml",
        f"""timezone = "Europe/Berlin"
database_url = "sqlite:///{tmp_path / "team.db"}"
database_wait = 12
team = "users.d"
[sync]
interval = 15
[me]
emails = ["owner@example.com"]
""",
    )


def test_a_users_file_gets_the_shared_keys_of_the_main_config(main: Path) -> None:
    write(
        main.parent / "users.d" / "ana.toml",
        """[me]
name = "Ana Ruiz"
emails = ["ana@example.com"]
[digest]
time = "08:15"
daily_size = 3
[tiers.top100]
cadence_days = 20
[[sources]]
type = "files"
paths = ["~/ana.vcf"]
""",
    )
    ana = team.load(main, user="ana")
    assert ana.user == "ana"
    assert ana.me.emails == ["ana@example.com"] and ana.me.name == "Ana Ruiz"
    assert (ana.digest.time, ana.digest.daily_size) == ("08:15", 3)
    assert ana.tiers["top100"].cadence_days == 20 and "partner" not in ana.tiers
    assert [s.name for s in ana.sources] == ["files1"]
    assert ana.database == f"sqlite:///{main.parent / 'team.db'}"
    assert (ana.database_wait, ana.sync.interval, ana.tz.key) == (12, 15, "Europe/Berlin")
    personal = config.load(main)
    assert personal.user == "" and personal.me.emails == ["owner@example.com"]


def test_each_user_has_a_maildir_of_their_own_unless_they_name_a_channel(main: Path) -> None:
    write(main.parent / "users.d" / "ana.toml", '[me]\nemails = ["ana@example.com"]\n')
    write(main.parent / "users.d" / "ben.toml", '[me]\nemails = ["ben@example.com"]\n')
    ana, ben, personal = team.load(main, "ana"), team.load(main, "ben"), config.load(main)
    assert len({ana.maildir_path, ben.maildir_path, personal.maildir_path}) == 3
    assert ana.maildir_path.parent.name == "ana"


def test_a_users_file_may_not_set_what_the_users_share(main: Path) -> None:
    path = write(
        main.parent / "users.d" / "ana.toml",
        'database_url = "sqlite:////tmp/other.db"\nteam = "x"\n[sync]\ninterval = 1\n',
    )
    with pytest.raises(ConfigError) as e:
        team.load(main, "ana")
    assert e.value.path == str(path)
    assert [p.split(":")[0] for p in e.value.problems] == ["database_url", "sync", "team"]
    assert "main config" in e.value.problems[0]


def test_a_bad_users_file_names_itself_and_its_key_and_the_others_carry_on(main: Path) -> None:
    folder = main.parent / "users.d"
    write(folder / "ana.toml", '[me]\nemails = ["ana@example.com"]\n')
    write(folder / "ben.toml", '[digest]\ntime = "25:00"\ndaily_size = "five"\n')
    write(folder / "cy.toml", "[me\nname=")
    write(folder / "Bad Name.toml", "")
    write(folder / "notes.txt", "not a user")
    members = {m.name: m for m in team.load_team(config.load(main))}
    assert sorted(members) == ["Bad Name", "ana", "ben", "cy"]
    assert members["ana"].settings is not None and members["ana"].error is None
    ben = members["ben"].error
    assert ben is not None and ben.path == str(folder / "ben.toml")
    assert sorted(p.split(":")[0] for p in ben.problems) == ["digest.daily_size", "digest.time"]
    cy = members["cy"].error
    assert cy is not None and "not valid TOML" in cy.problems[0] and cy.path == str(folder / "cy.toml")
    stray = members["Bad Name"].error
    assert stray is not None and "lower-case" in stray.problems[0]


def test_an_inline_password_needs_a_file_only_its_user_can_read(main: Path) -> None:
    text = '[[channels]]\ntype = "smtp"\nhost = "smtp.example.com"\nusername = "ana"\npassword = "s3cret"\n'
    path = write(main.parent / "users.d" / "ana.toml", text, mode=0o644)
    with pytest.raises(ConfigError) as e:
        team.load(main, "ana")
    assert f"chmod 600 {path}" in str(e.value) and "s3cret" not in str(e.value)
    path.chmod(0o600)
    assert team.load(main, "ana").channels[0].options["password"] == "s3cret"


def test_a_password_in_the_shared_database_url_does_not_bind_the_users_files(tmp_path: Path) -> None:
    main = write(tmp_path / "config.toml", 'database_url = "postgresql://n:pw@db/n"\nteam = "u"\n')
    write(tmp_path / "u" / "ana.toml", '[me]\nemails = ["ana@example.com"]\n', mode=0o644)
    assert team.load(main, "ana").user == "ana"


def test_user_needs_a_team_folder_and_a_known_user(main: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        team.load(main, "zoe")
    assert "nudge team add zoe" in str(e.value)
    with pytest.raises(UserError, match="is not a user name"):
        team.load(main, "../etc/passwd")
    alone = write(tmp_path / "alone.toml", "[me]\nemails = []\n")
    with pytest.raises(UserError, match="no team folder"):
        team.load(alone, "ana")


def test_the_starter_file_loads_and_is_private(main: Path) -> None:
    path = team.write_starter(config.load(main), "dee")
    assert path == main.parent / "users.d" / "dee.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert team.load(main, "dee").user == "dee"
    path.write_text('[me]\nemails = ["dee@example.com"]\n')
    team.write_starter(config.load(main), "dee")  # an existing file is kept
    assert "dee@example.com" in path.read_text()


def test_an_absolute_or_home_team_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    main = write(tmp_path / "config.toml", 'team = "~/users.d"\n')
    assert team.folder(config.load(main)) == tmp_path / "home" / "users.d"
    assert team.names(config.load(main)) == []
