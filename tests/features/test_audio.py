import numpy as np

from storm.features.audio import audio_features, fit_frames, log_mel

RATE = 16000


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_log_mel_has_n_mels_rows_and_one_frame_per_10ms():
    mel = log_mel(tone(1.0), RATE, 64)
    assert mel.shape[0] == 64
    assert abs(mel.shape[1] - 101) <= 1
    assert np.isfinite(mel).all()


def test_tone_energy_lands_in_the_matching_mel_band():
    low, high = log_mel(tone(0.5, 200.0), RATE, 32), log_mel(tone(0.5, 4000.0), RATE, 32)
    assert low.mean(axis=1).argmax() < high.mean(axis=1).argmax()


def test_clip_is_fixed_length_normalised_and_finite():
    features = audio_features(tone(4.0), RATE, 64, 256)
    assert features.shape == (64, 256) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert abs(features.mean()) < 0.05 and abs(features.std() - 1.0) < 0.05


def test_short_clip_is_zero_padded_and_silence_stays_finite():
    short = audio_features(tone(0.5), RATE, 16, 256)
    assert short.shape == (16, 256)
    assert np.all(short[:, 60:] == 0.0)
    assert np.isfinite(audio_features(np.zeros(RATE, dtype=np.float32), RATE, 16, 64)).all()


def test_long_clip_is_cropped_around_its_centre():
    mel = np.arange(10, dtype=np.float32)[None, :].repeat(2, axis=0)
    np.testing.assert_array_equal(fit_frames(mel, 4)[0], [3, 4, 5, 6])
    np.testing.assert_array_equal(fit_frames(mel, 12)[0], [*range(10), 0, 0])
