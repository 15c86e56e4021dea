import wave

import numpy as np
import pytest

from mmzoo.data import audio
from mmzoo.errors import DataError


def _tone(freq, seconds=1.0, rate=audio.SAMPLE_RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype("float32")


def _write_wav(path, samples, rate=audio.SAMPLE_RATE, channels=1):
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data.tobytes())


def test_mfcc_shapes():
    signals = np.stack([_tone(440), _tone(1000)])
    frames = audio.num_frames()
    assert frames == 1 + (8000 - 256) // 128 == 61
    assert audio.log_mel_spectrogram(signals).shape == (2, frames, 40)
    assert audio.mfcc(signals).shape == (2, frames, 13)
    assert audio.mfcc(signals, num_mfcc=5).shape == (2, frames, 5)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_pure_tone_energy_lands_in_the_expected_mel_band(freq):
    log_mel = audio.log_mel_spectrogram(_tone(freq)[None])[0]
    centres = audio.mel_band_centres()
    peak_band = int(np.argmax(log_mel.mean(axis=0)))
    # The band whose centre (HTK mel scale, computed here independently of
    # tf.signal) is nearest the tone, or its neighbour when the tone falls
    # between two centres.
    nearest = np.argsort(np.abs(centres - freq))[:2]
    assert peak_band in nearest, (peak_band, nearest, centres[nearest])


def test_fix_length():
    np.testing.assert_array_equal(audio.fix_length([1.0, 2.0], 4), [1, 2, 0, 0])
    np.testing.assert_array_equal(audio.fix_length(np.arange(6.0), 4), [0, 1, 2, 3])


def test_read_wav_and_files_to_mfcc(tmp_path):
    tone = _tone(700, seconds=0.5)
    _write_wav(tmp_path / "a.wav", tone)
    samples, rate = audio.read_wav(tmp_path / "a.wav")
    assert rate == 8000 and samples.shape == (4000,)
    np.testing.assert_allclose(samples, tone, atol=1e-4)
    features = audio.wav_files_to_mfcc([tmp_path / "a.wav"] * 3)
    assert features.shape == (3, 61, 13) and np.all(np.isfinite(features))


def test_bad_wav_files(tmp_path):
    with pytest.raises(DataError, match="Missing audio file"):
        audio.read_wav(tmp_path / "absent.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEnot really")
    with pytest.raises(DataError, match="Corrupt WAV"):
        audio.read_wav(tmp_path / "bad.wav")
    _write_wav(tmp_path / "stereo.wav", np.zeros(200), channels=2)
    with pytest.raises(DataError, match="mono 16-bit"):
        audio.read_wav(tmp_path / "stereo.wav")
    _write_wav(tmp_path / "fast.wav", np.zeros(200), rate=16000)
    with pytest.raises(DataError, match="sample rate"):
        audio.wav_files_to_mfcc([tmp_path / "fast.wav"])
