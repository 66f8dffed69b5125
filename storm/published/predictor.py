"""A trained run, ready to score: model + calibration + thresholds, rebuilt from models/<run>/.

The scan, the evaluation and storm.explain score with this. It
rebuilds the model from the run's model card (not the caller's config), so a
scan scores exactly what was trained. CPU by default; the GPU when present.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import torch

from storm.config import ConfigError, config_from_dict
from storm.model import build_model
from storm.model.modality_mask import present_modalities
from storm.published.artifacts import PublishedModel, read_model
from storm.published.calibration import Calibration
from storm.published.inference import MODEL_INPUT_KEYS, autocast_context, model_inputs, predict
from storm.schema import MODALITIES
from storm.store import Layout, ObjectStore


class Predictor:
    """Calibrated storm scores, alerts, predicted volatility and modality weights for sample batches."""

    def __init__(self, model: torch.nn.Module, calibration: Calibration, card: dict, device: torch.device | None = None):
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.calibration = calibration
        self.card = card
        self.autocast_dtype = torch.bfloat16 if self.device.type == "cuda" else None

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def horizons(self) -> list[int]:
        return list(self.calibration.horizons)

    @property
    def thresholds(self) -> dict[int, float]:
        return dict(self.calibration.threshold)

    def predict(self, batch: Mapping[str, np.ndarray], mask_modalities: Iterable[str] = (),
                calibration: Calibration | None = None, with_logits: bool = False) -> dict[str, np.ndarray]:
        """score_{h}d, alert_{h}d, vol_pred, weight_<modality> for each row; `mask_modalities` are treated as missing.

        `calibration` replaces the run's own (e.g. one fitted on pooled walk-forward validation folds).
        `with_logits`: also logit_{h}d, the raw logit the calibration maps (evaluation's predictions file).
        """
        inputs = masked_inputs(batch, mask_modalities)
        outputs = predict(self.model, [inputs], autocast_dtype=self.autocast_dtype, device=self.device)
        return self._outputs(outputs["storm_logits"], outputs["log_vol"], outputs["modality_weights"],
                             calibration or self.calibration, with_logits)


    @torch.no_grad()
    def predict_variants(self, batch: Mapping[str, np.ndarray], variants: Mapping[str, Iterable[str]],
                         calibration: Calibration | None = None,
                         with_logits: bool = False) -> dict[str, dict[str, np.ndarray]]:
        """{variant: predict(batch, mask_modalities)} for several masks, encoding the batch once.

        Masking a modality only changes what the fusion sees, so every ablation reuses the same encodings.
        """
        inputs = model_inputs(masked_inputs(batch), self.device)
        calibration = calibration or self.calibration
        results = {}
        with autocast_context(self.device, self.autocast_dtype):
            present = present_modalities(inputs["modality_mask"], self.model.enabled)
            embeddings = self.model.encode(inputs, present)
            for name, masked in variants.items():
                kept = present.clone()
                for modality in masked:
                    kept[:, MODALITIES.index(modality)] = False
                output = self.model.fuse(embeddings, kept)
                results[name] = self._outputs(output.storm_logits.float().cpu().numpy(),
                                              output.log_vol.float().cpu().numpy(),
                                              output.modality_weights.float().cpu().numpy(), calibration, with_logits)
        return results

    def _outputs(self, logits: np.ndarray, log_vol: np.ndarray, weights: np.ndarray, calibration: Calibration,
                 with_logits: bool = False) -> dict:
        scores = calibration.probability(logits)
        alerts = calibration.alerts(scores)
        result: dict[str, np.ndarray] = {}
        for index, horizon in enumerate(self.horizons):
            result[f"score_{horizon}d"] = scores[:, index]
            result[f"alert_{horizon}d"] = alerts[:, index]
            if with_logits:
                result[f"logit_{horizon}d"] = np.asarray(logits[:, index], dtype=np.float64)
        result["vol_pred"] = log_vol.astype(np.float64)
        for index, modality in enumerate(MODALITIES):
            result[f"weight_{modality}"] = weights[:, index].astype(np.float64)
        return result


def masked_inputs(batch: Mapping[str, np.ndarray], mask_modalities: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The model's inputs from a batch, with the named modalities marked missing (for ablations)."""
    unknown = set(mask_modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"cannot mask unknown modalities {sorted(unknown)}; choose from {list(MODALITIES)}")
    missing = [key for key in MODEL_INPUT_KEYS if key not in batch]
    if missing:
        raise KeyError(f"batch lacks model inputs {missing}; a sample batch has {list(MODEL_INPUT_KEYS)}")
    inputs = {key: np.asarray(batch[key]) for key in MODEL_INPUT_KEYS}
    mask = np.array(inputs["modality_mask"], dtype=np.float32, copy=True)
    for modality in mask_modalities:
        mask[:, MODALITIES.index(modality)] = 0.0
    inputs["modality_mask"] = mask
    return inputs


def load_predictor(store: ObjectStore, layout: Layout, run: str, device: torch.device | None = None) -> Predictor:
    """The run's published model (models/<run>/) as a Predictor."""
    return predictor_from_published(read_model(store, layout, run), device)


def card_model_settings(card: dict) -> dict:
    """The card's model section, with the defaults of settings added since: a card without ``price_inputs`` was
    published when the prices encoder read the daily readings only, one without ``news_wire`` before the news
    encoder read a market-wide wire."""
    return {"price_inputs": "daily", "news_wire": False, **card["model"]}


def predictor_from_published(published: PublishedModel, device: torch.device | None = None) -> Predictor:
    """A Predictor from one loaded model version (a scan loads it once and ships it to its actors)."""
    card = published.card
    try:
        settings = config_from_dict({"model": card_model_settings(card), "features": card["features"]},
                                    source=f"the card of model {card.get('run')} version {published.version}")
    except ConfigError as err:
        raise ConfigError(f"{err}. The model was published by another storm version; retrain it "
                          f"(storm train --run {card.get('run')} --fresh)") from None
    model = build_model(settings.model, settings.features, list(card["horizons"]))
    model.load_state_dict(published.weights)
    return Predictor(model, published.calibration, card, device)
