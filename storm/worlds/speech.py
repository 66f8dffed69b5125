"""Conference-call audio: a scripted statement spoken by espeak-ng, whose delivery follows stress.

``pressure`` in [0, 1] is how strained the speaker is (a noisy view of the
hidden state, independent of the press's view). Strained speakers talk
slower, at a higher pitch, with longer gaps and hesitations ("uh", "well,
we..."), and say more about funding and collateral; all of it with noise.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storm.worlds.wav import decode_wav, resample

ESPEAK = "espeak-ng"
OPENERS = (
    "Good morning everyone, and thank you for joining the {market} call.",
    "Thanks, operator. Welcome to our {market} quarterly update.",
    "Hello, and welcome to the {market} investor conference.",
    "Thank you all for dialing in today.",
)
CALM_LINES = (
    "Revenue grew {number} percent and our balance sheet remains strong.",
    "Liquidity is ample and funding markets are open to us.",
    "We are raising our outlook for the year.",
    "Client activity was healthy across all regions.",
    "Credit quality is stable and provisions are low.",
    "We continue to invest in technology and people.",
    "Our guidance is unchanged.",
)
STRAINED_LINES = (
    "We are monitoring our funding position very closely.",
    "Some counterparties have asked for additional collateral.",
    "Credit conditions have tightened and we have drawn on our facilities.",
    "We see pressure on margins and on liquidity.",
    "We are reviewing our exposure to leveraged borrowers.",
    "Redemptions were higher than we expected this month.",
    "We have postponed the bond issue until markets settle.",
)
CLOSERS = ("We will now take your questions.", "Thank you.", "Operator, please open the line.", "That concludes our remarks.")
HESITATIONS = ("uh,", "um,", "well, we...", "so, uh,", "I mean,", "let me, uh,")


@dataclass(frozen=True)
class SpeechScript:
    """What espeak-ng says and how: words per minute, pitch 0–99, extra gap between words (10 ms units).

    ``sentences`` is the call's transcript, one sentence each; espeak speaks them as one text."""

    sentences: tuple[str, ...]
    words_per_minute: int
    pitch: int
    word_gap: int

    def __post_init__(self) -> None:
        if isinstance(self.sentences, str):
            raise TypeError("SpeechScript.sentences is a tuple of sentences, not one string")

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def conference_script(rng: np.random.Generator, market: str, pressure: float) -> SpeechScript:
    sentences = [str(rng.choice(OPENERS)).format(market=market)]
    for _ in range(int(rng.integers(2, 5))):
        lines = STRAINED_LINES if rng.uniform() < 0.1 + 0.7 * pressure else CALM_LINES
        sentence = str(rng.choice(lines)).format(number=int(rng.integers(2, 15)))
        if rng.uniform() < 0.05 + 0.6 * pressure:
            sentence = f"{rng.choice(HESITATIONS)} {sentence[0].lower()}{sentence[1:]}"
        sentences.append(sentence)
    sentences.append(str(rng.choice(CLOSERS)))
    return SpeechScript(
        sentences=tuple(sentences),
        words_per_minute=int(np.clip(rng.normal(180.0 - 50.0 * pressure, 12.0), 90, 260)),
        pitch=int(np.clip(rng.normal(40.0 + 30.0 * pressure, 8.0), 0, 99)),
        word_gap=int(np.clip(rng.normal(8.0 * pressure, 2.0), 0, 20)),
    )


def require_espeak() -> str:
    """The espeak-ng executable, or a clear error saying how to proceed without it."""
    found = shutil.which(ESPEAK)
    if found is None:
        raise RuntimeError(f"{ESPEAK} is not installed: install the Debian package 'espeak-ng', "
                           "or generate without audio (--set world.with_audio=false)")
    return found


def synthesize(script: SpeechScript, sample_rate: int, executable: str = ESPEAK) -> np.ndarray:
    """float32 mono samples at sample_rate of espeak-ng speaking the script (espeak writes 22050 Hz)."""
    with tempfile.TemporaryDirectory(prefix="storm-speech-") as folder:
        target = Path(folder) / "speech.wav"
        command = [executable, "-w", str(target), "-s", str(script.words_per_minute), "-p", str(script.pitch),
                   "-g", str(script.word_gap), "-v", "en", script.text]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if finished.returncode != 0:
            raise RuntimeError(f"{executable} failed (exit {finished.returncode}) on {script.text[:60]!r}: {finished.stderr.strip()}")
        native_rate, samples = decode_wav(target.read_bytes())
    return resample(samples, native_rate, sample_rate)
