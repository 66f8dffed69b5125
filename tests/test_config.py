import os
from pathlib import Path

import pytest

from storm.config import ConfigError, load_config


def test_yaml_then_environment_then_overrides_take_precedence(tmp_path: Path):
    config_file = tmp_path / "storm.yaml"
    config_file.write_text("train:\n  epochs: 3\n  batch_size: 16\nworld:\n  n_markets: 4\n")
    config = load_config(config_file, environ={"STORM_TRAIN__EPOCHS": "5"}, overrides={"world.n_markets": 2})
    assert (config.train.epochs, config.train.batch_size, config.world.n_markets) == (5, 16, 2)


def test_bad_value_error_names_the_key_and_the_source():
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"STORM_TRAIN__EPOCHS": "-1"})
    assert "train.epochs" in str(raised.value) and "STORM_TRAIN__EPOCHS" in str(raised.value)


def test_unknown_key_is_rejected_not_ignored(tmp_path: Path):
    config_file = tmp_path / "storm.yaml"
    config_file.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"train\.epoch"):
        load_config(config_file, environ={})


def test_redacted_config_hides_secrets_but_keeps_them_usable():
    config = load_config(environ={}, overrides={"storage.secret_access_key": "s3cr3t"})
    assert "s3cr3t" not in str(config.redacted())
    assert config.storage.secret_access_key.get_secret_value() == "s3cr3t"
    assert config.with_overrides({"train.epochs": 2}).storage.secret_access_key.get_secret_value() == "s3cr3t"


def cli_config(*args: str):
    """The config `storm` builds from its command line (--set values parsed as the CLI parses them)."""
    from storm.cli.common import build_config

    return build_config(None, list(args))


def test_a_date_given_to_a_string_field_stays_the_string_from_set_env_and_yaml(tmp_path: Path, monkeypatch):
    assert cli_config("world.start_date=2017-01-02").world.start_date == "2017-01-02"
    assert load_config(environ={"STORM_WORLD__REPLAY_START": "2010-05-06"}).world.replay_start == "2010-05-06"
    config_file = tmp_path / "storm.yaml"
    config_file.write_text("world:\n  start_date: 2017-01-02\n  replay_market: 500\n  replay_end: 2018-01-31\n")
    world = load_config(config_file, environ={}).world
    assert (world.start_date, world.replay_market, world.replay_end) == ("2017-01-02", "500", "2018-01-31")


def test_a_yaml_special_password_stays_exactly_as_typed():
    for password in ("yes", "0123", "1e3", "2017-01-02", "[not, a, list]", "on"):
        config = cli_config(f"storage.secret_access_key={password}", f"metrics.pushgateway_password={password}")
        assert config.storage.secret_access_key.get_secret_value() == password
        assert config.metrics.pushgateway_password.get_secret_value() == password
    assert cli_config("train.epochs=3", "labels.horizons=[5, 20]").labels.horizons == [5, 20]  # others still YAML


def test_an_invalid_secret_never_appears_in_the_error():
    secret = "S3cr3t-V4lue"
    with pytest.raises(ConfigError) as raised:
        load_config(environ={}, overrides={"storage.secret_access_key": [secret], "train.epochs": -1})
    message = str(raised.value)
    assert secret not in message and "storage.secret_access_key" in message and "train.epochs" in message
    with pytest.raises(ConfigError) as raised:  # a secret given a whole section by mistake
        load_config(environ={}, overrides={"storage": {"secret_access_key": secret, "bogus": secret}})
    assert secret not in str(raised.value) and "storage.bogus" in str(raised.value)


def test_a_secret_in_a_broken_yaml_file_is_not_quoted_in_the_error(tmp_path: Path):
    config_file = tmp_path / "storm.yaml"
    config_file.write_text('storage:\n  secret_access_key: "Ab:c\'d\n  root: [x\n')
    with pytest.raises(ConfigError, match="line") as raised:
        load_config(config_file, environ={})
    assert "Ab:c" not in str(raised.value)


def test_url_credentials_are_redacted_in_errors_and_in_the_shown_config():
    with pytest.raises(ConfigError) as raised:
        load_config(environ={}, overrides={"metrics.pushgateway_url": "http://storm:hunter2@gw:9091",
                                           "metrics.push_retries": -1})
    assert "hunter2" not in str(raised.value) and "http://***@gw:9091" in str(raised.value)
    shown = load_config(environ={}, overrides={"storage.endpoint_url": "http://key:hunter2@minio:9000"}).redacted()
    assert shown["storage"]["endpoint_url"] == "http://***@minio:9000"


@pytest.mark.parametrize("run", ["../../x", "/abs", ".hidden", "a/b", "a..b"])
def test_a_run_name_that_could_leave_the_store_is_a_clear_config_error(run):
    with pytest.raises(ConfigError, match="train.run_name") as raised:
        load_config(environ={}, overrides={"train.run_name": run})
    assert "not allowed" in str(raised.value)
    with pytest.raises(ConfigError, match="train.init_from"):
        load_config(environ={}, overrides={"train.init_from": run})


def test_run_escape_on_the_command_line_exits_2_with_the_reason(tmp_path: Path):
    from typer.testing import CliRunner

    from storm.cli import app

    for run in ("../../x", "/abs"):
        result = CliRunner().invoke(app, ["train", "--run", run, "--set", f"storage.root={tmp_path}"])
        assert result.exit_code == 2 and "not allowed" in result.output
        assert not any(tmp_path.parent.parent.glob("x")) and not Path("/abs").exists()


def test_a_quoted_yaml_string_given_to_a_string_field_is_its_text_without_the_quotes():
    from storm.config import parse_value

    assert parse_value("storage.root", '"s3://bucket/world"') == "s3://bucket/world"
    assert parse_value("world.start_date", "'2017-01-02'") == "2017-01-02"
    assert parse_value("storage.root", "s3://bucket/world") == "s3://bucket/world"


# --- issue 21: secrets never echo through misspelled keys; errors stay small ---

TOPSECRET = "TOPSECRET-123"


def test_a_misspelled_secret_key_in_yaml_names_the_key_and_its_nearest_but_never_its_value(tmp_path: Path):
    config_file = tmp_path / "storm.yaml"
    config_file.write_text(f'storage:\n  secret_acces_key: "{TOPSECRET}"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(config_file, environ={})
    message = str(raised.value)
    assert TOPSECRET not in message
    assert "storage.secret_acces_key" in message and "did you mean storage.secret_access_key" in message


def test_a_misspelled_secret_key_in_set_or_the_environment_never_echoes_its_value():
    from typer.testing import CliRunner

    from storm.cli import app

    for raised_by in (lambda: load_config(environ={}, overrides={"storage.secret_acess_key": TOPSECRET}),
                      lambda: load_config(environ={"STORM_STORAGE__SECRET_ACESS_KEY": TOPSECRET})):
        with pytest.raises(ConfigError) as raised:
            raised_by()
        assert TOPSECRET not in str(raised.value) and "did you mean storage.secret_access_key" in str(raised.value)
    result = CliRunner().invoke(app, ["config", "--set", f"storage.secret_acess_key={TOPSECRET}"])
    assert result.exit_code == 2 and TOPSECRET not in result.output and "secret_acess_key" in result.output


def test_a_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path: Path):
    lines = ['a: &a ["xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]")
    lines.append("train: {epochs: *i}")
    config_file = tmp_path / "storm.yaml"
    config_file.write_text("\n".join(lines) + "\n")
    assert config_file.stat().st_size < 600
    with pytest.raises(ConfigError, match="alias") as raised:
        load_config(config_file, environ={})
    assert len(str(raised.value)) < 500


def test_a_huge_wrong_value_gives_a_bounded_error():
    with pytest.raises(ConfigError) as raised:
        load_config(environ={}, overrides={"train.epochs": ["x" * 1000] * 1000, "labels.horizons": "y" * 100_000})
    assert "train.epochs" in str(raised.value) and len(str(raised.value)) <= 2100


@pytest.mark.parametrize("old, new", [
    ("model.image_encoder", "model.prices_encoder"), ("model.audio_encoder", "model.calls_encoder"),
    ("model.text_encoder", "model.news_encoder"), ("features.image_size", "features.chart_size"),
    ("features.audio_windows", "features.call_slices"), ("features.audio_frames", "features.call_mel_frames"),
])
def test_a_key_renamed_in_0_2_fails_with_a_message_naming_its_new_name(tmp_path: Path, old, new):
    section, key = old.split(".")
    path = tmp_path / "old.yaml"
    path.write_text(f"{section}:\n  {key}: 8\n")
    with pytest.raises(ConfigError, match=f"{old} was renamed {new}"):
        load_config(path, environ={})


@pytest.mark.parametrize("key", ["model.modalities", "evaluation.single_modalities"])
def test_old_modality_names_fail_with_the_names_they_became(key):
    with pytest.raises(ConfigError, match="'image' is now 'prices', 'audio' is now 'calls'"):
        load_config(environ={}, overrides={key: ["news", "image", "audio"]})
    assert load_config(environ={}, overrides={"model.modalities": ["news", "prices", "calls"]}).model.modalities == \
        ["news", "prices", "calls"]


def test_an_old_key_on_the_command_line_exits_2_naming_the_new_key(tmp_path: Path):
    from typer.testing import CliRunner

    from storm.cli import app

    result = CliRunner().invoke(app, ["config", "--set", "model.image_encoder=chart_evidence"])
    assert result.exit_code == 2 and "model.image_encoder was renamed model.prices_encoder" in result.output


def test_ray_train_reports_are_polled_at_the_configured_interval_unless_the_user_set_one(monkeypatch):
    from storm.config import RAY_TRAIN_REPORT_POLL_ENV, TrainConfig, exported_environment

    monkeypatch.delenv(RAY_TRAIN_REPORT_POLL_ENV, raising=False)
    with exported_environment(TrainConfig(report_poll_seconds=0.2).ray_train_environment()):
        assert os.environ[RAY_TRAIN_REPORT_POLL_ENV] == "0.2"  # what fit() hands to the controller it creates
    assert RAY_TRAIN_REPORT_POLL_ENV not in os.environ
    monkeypatch.setenv(RAY_TRAIN_REPORT_POLL_ENV, "5")
    with exported_environment(TrainConfig(report_poll_seconds=0.2).ray_train_environment()):
        assert os.environ[RAY_TRAIN_REPORT_POLL_ENV] == "5"
    assert os.environ[RAY_TRAIN_REPORT_POLL_ENV] == "5"
