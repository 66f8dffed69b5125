"""Conference speech: delivery follows pressure; espeak-ng output lands at the ingest sample rate."""

import numpy as np

from storm.worlds.speech import HESITATIONS, conference_script, synthesize


def scripts(pressure: float, n: int = 200):
    rng = np.random.default_rng(0)
    return [conference_script(rng, "ARDEN", pressure) for _ in range(n)]


def test_strained_speakers_talk_slower_higher_and_hesitate_more():
    calm, strained = scripts(0.05), scripts(0.9)
    assert np.mean([s.words_per_minute for s in strained]) < np.mean([s.words_per_minute for s in calm]) - 25
    assert np.mean([s.pitch for s in strained]) > np.mean([s.pitch for s in calm]) + 15

    def hesitations(batch):
        return np.mean([sum(s.text.count(h) for h in HESITATIONS) for s in batch])

    assert hesitations(strained) > 2 * hesitations(calm)


def test_synthesized_speech_is_16khz_audio_of_a_few_seconds():
    script = conference_script(np.random.default_rng(3), "ARDEN", 0.5)
    samples = synthesize(script, 16000)
    assert samples.dtype == np.float32
    assert 2.0 < samples.shape[0] / 16000 < 30.0
    assert 0.05 < np.abs(samples).max() <= 1.0
