"""Per-sentence voice features: Praat's voice report (praat-parselmouth, storm's choice) vs openSMILE's eGeMAPS.

    .venv/bin/pip install '.[bench]'      # opensmile: measured here, not a dependency of storm
    .venv/bin/python benchmarks/bench_voice_features.py [--calls 60] [--seed 7]

Generated conference calls (espeak-ng, storm.worlds.speech) with the speaker's strain drawn uniformly in [0, 1]; each
call cut into sentences at its pauses (storm.features.voice), then each sentence measured both ways in one run.
Prints, per way: seconds per second of audio, values per sentence, and how well the call's mean features tell a
strained speaker (strain > 0.5) from a calm one: 5-fold cross-validated AUROC of a standardised logistic
regression (scikit-learn). Whether a vendor's MAEC table can sit beside it is a matter of definition: MAEC's 29
columns are Praat's voice report, which parselmouth runs; eGeMAPS has no such columns.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import offline

RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    offline()
    import opensmile
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from storm.features.voice import cut_segments, segment_sentences, voice_report
    from storm.worlds.speech import conference_script, synthesize

    rng = np.random.default_rng(args.seed)
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
    strain, audio_seconds = [], 0.0
    seconds = {"praat": 0.0, "egemaps": 0.0}
    call_means = {"praat": [], "egemaps": []}
    widths = {}
    for _ in range(args.calls):
        pressure = float(rng.uniform())
        samples = synthesize(conference_script(rng, "ARDEN", pressure), RATE)
        audio_seconds += len(samples) / RATE
        segments = list(cut_segments([samples], segment_sentences([samples], RATE)))
        began = time.perf_counter()
        praat = np.stack([voice_report(segment, RATE) for segment in segments])
        seconds["praat"] += time.perf_counter() - began
        began = time.perf_counter()
        egemaps = np.stack([smile.process_signal(segment, RATE).to_numpy()[0] for segment in segments])
        seconds["egemaps"] += time.perf_counter() - began
        for name, values in (("praat", praat), ("egemaps", egemaps)):
            widths[name] = values.shape[1]
            call_means[name].append(np.nan_to_num(np.nanmean(values, axis=0)))
        strain.append(pressure > 0.5)
    labels = np.array(strain)
    print(f"{args.calls} calls, {audio_seconds:.0f} s of speech, {labels.mean():.0%} strained")
    print("| features | values per sentence | s per s of audio | x real time | strained vs calm, CV AUROC |")
    print("|---|---|---|---|---|")
    for name in ("praat", "egemaps"):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        scores = cross_val_score(model, np.stack(call_means[name]), labels, cv=5, scoring="roc_auc")
        per_second = seconds[name] / audio_seconds
        print(f"| {name} | {widths[name]} | {per_second:.4f} | {1 / per_second:.0f} | "
              f"{scores.mean():.3f} (folds {scores.min():.3f}–{scores.max():.3f}) |")


if __name__ == "__main__":
    main()
