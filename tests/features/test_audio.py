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


def test_slice_starts_spread_evenly_and_one_window_is_the_centre():
    from storm.ingest.audio import slice_starts

    np.testing.assert_array_equal(slice_starts(1000, 4, 100), [75, 325, 575, 825])
    np.testing.assert_array_equal(slice_starts(1000, 1, 100), [450])
    np.testing.assert_array_equal(slice_starts(150, 4, 100), [0, 6, 44, 50])  # overlap only when the call is short


def test_windows_of_a_call_become_one_fixed_shape_feature_in_call_order():
    from storm.features.audio import call_slices
    from storm.ingest.audio import slice_samples

    length = slice_samples(256, 8, RATE)
    call = np.concatenate([tone(10.0, hz) for hz in (200.0, 400.0, 800.0, 1600.0)])  # pitch rises over the call
    windows = call_slices(call, 8, length)
    assert windows.shape == (8, length) and length == 32 * 160
    features = audio_features(windows, RATE, 32, 256)
    assert features.shape == (32, 256) and np.isfinite(features).all()
    assert abs(features.mean()) < 0.05 and abs(features.std() - 1.0) < 0.05
    loudest_band = [features[:, 32 * i:32 * (i + 1)].mean(axis=1).argmax() for i in range(8)]
    assert loudest_band == sorted(loudest_band) and loudest_band[0] < loudest_band[-1]


def test_frames_not_divisible_by_windows_are_zero_padded_at_the_end():
    windows = np.stack([tone(0.5)[:33 * 160]] * 3)
    features = audio_features(windows, RATE, 16, 100)  # 3 windows of 33 frames + 1 padding frame
    assert features.shape == (16, 100) and np.all(features[:, 99] == 0.0) and np.all(features[:, :99] != 0.0)


def test_call_statistics_are_each_bands_mean_spread_and_change_the_same_in_any_chunking(monkeypatch):
    from storm.features import audio

    rng = np.random.default_rng(0)
    mels = rng.normal(size=(5, 4, 32)).astype(np.float16)
    stats = audio.call_statistics(mels, 4)
    wide = mels.astype(np.float64)
    np.testing.assert_allclose(stats[:, :4], wide.mean(axis=-1), atol=1e-5)
    np.testing.assert_allclose(stats[:, 4:8], wide.std(axis=-1, ddof=1), atol=1e-5)
    np.testing.assert_allclose(stats[:, 8:], np.abs(np.diff(wide, axis=-1)).mean(axis=-1), atol=1e-5)
    monkeypatch.setattr(audio, "CALL_STATISTICS_CHUNK", 2)  # a panel of many calls is done in pieces
    np.testing.assert_array_equal(audio.call_statistics(list(mels), 4), stats)
    assert audio.call_statistics(np.zeros((0, 4, 32), np.float16), 4).shape == (0, 12)
