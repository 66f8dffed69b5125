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
