"""Audio features with `tf.signal`: WAV reading, log-mel spectrograms and MFCC.

The pipeline is the usual one (Davis and Mermelstein 1980): fixed-length
waveform -> STFT power spectrum (Hann window) -> mel filterbank (HTK mel scale,
as `tf.signal.linear_to_mel_weight_matrix`) -> log -> DCT-II, keeping the first
`num_mfcc` coefficients.
"""

import struct
import wave

import numpy as np

from mmzoo.errors import DataError

SAMPLE_RATE = 8000
NUM_SAMPLES = 8000  # 1 s at 8 kHz: FSDD recordings are padded or cut to this
FRAME_LENGTH = 256  # 32 ms
FRAME_STEP = 128  # 16 ms
FFT_LENGTH = 256
NUM_MEL_BINS = 40
LOWER_HZ = 20.0
NUM_MFCC = 13
LOG_OFFSET = 1e-6


def read_wav(path):
    """A mono 16-bit PCM WAV file as float32 in [-1, 1], and its sample rate.

    Raises:
        DataError: missing, unreadable or non mono 16-bit file.
    """
    try:
        with wave.open(str(path), "rb") as f:
            channels, width = f.getnchannels(), f.getsampwidth()
            rate, frames = f.getframerate(), f.readframes(f.getnframes())
    except FileNotFoundError:
        raise DataError(f"Missing audio file: {path}")
    except (wave.Error, EOFError, OSError, RuntimeError, struct.error) as e:
        # The stdlib reader raises RuntimeError or struct.error on some truncated
        # chunk headers.
        raise DataError(f"Corrupt WAV file {path}: {e}")
    if channels != 1 or width != 2:
        raise DataError(
            f"{path}: expected mono 16-bit PCM, got {channels} channel(s) of "
            f"{8 * width} bits"
        )
    if len(frames) < 2:
        raise DataError(f"Corrupt WAV file {path}: no samples")
    samples = np.frombuffer(frames[: len(frames) // 2 * 2], dtype="<i2")
    return samples.astype("float32") / 32768.0, rate


def fix_length(signal, num_samples=NUM_SAMPLES):
    """Zero-pad at the end or cut a 1-D signal to exactly `num_samples`."""
    signal = np.asarray(signal, dtype="float32")[:num_samples]
    return np.pad(signal, (0, num_samples - len(signal)))


def num_frames(num_samples=NUM_SAMPLES, frame_length=FRAME_LENGTH, step=FRAME_STEP):
    """Frames of `tf.signal.stft` without end padding."""
    return 1 + (num_samples - frame_length) // step


def mel_band_centres(
    num_mel_bins=NUM_MEL_BINS, sample_rate=SAMPLE_RATE, lower_hz=LOWER_HZ
):
    """Centre frequencies (Hz) of the mel bands of `log_mel_spectrogram`."""
    upper_hz = sample_rate / 2.0
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f) / 700.0)  # noqa: E731
    edges = np.linspace(mel(lower_hz), mel(upper_hz), num_mel_bins + 2)
    return 700.0 * np.expm1(edges[1:-1] / 1127.0)


def log_mel_spectrogram(
    signals,
    sample_rate=SAMPLE_RATE,
    frame_length=FRAME_LENGTH,
    frame_step=FRAME_STEP,
    fft_length=FFT_LENGTH,
    num_mel_bins=NUM_MEL_BINS,
    lower_hz=LOWER_HZ,
):
    """Log mel power spectrogram of (batch, samples) signals.

    Returns:
        (batch, frames, num_mel_bins) float32 array.
    """
    import tensorflow as tf

    signals = tf.convert_to_tensor(np.asarray(signals, dtype="float32"))
    if signals.shape.rank != 2:
        raise ValueError(
            f"`signals` must be (batch, samples). Received shape={signals.shape}"
        )
    stft = tf.signal.stft(
        signals, frame_length, frame_step, fft_length, window_fn=tf.signal.hann_window
    )
    power = tf.square(tf.abs(stft))
    weights = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_length // 2 + 1, sample_rate, lower_hz, sample_rate / 2.0
    )
    mel = tf.tensordot(power, weights, 1)
    return tf.math.log(mel + LOG_OFFSET).numpy()


def mfcc(signals, num_mfcc=NUM_MFCC, **kwargs):
    """MFCC of (batch, samples) signals: (batch, frames, num_mfcc) float32."""
    import tensorflow as tf

    log_mel = tf.convert_to_tensor(log_mel_spectrogram(signals, **kwargs))
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :num_mfcc].numpy()


def wav_files_to_mfcc(paths, num_samples=NUM_SAMPLES, batch_size=256):
    """MFCC (n, frames, 13) of WAV files at `SAMPLE_RATE`, padded or cut."""
    signals = []
    for path in paths:
        signal, rate = read_wav(path)
        if rate != SAMPLE_RATE:
            raise DataError(f"{path}: sample rate {rate} Hz, expected {SAMPLE_RATE}")
        signals.append(fix_length(signal, num_samples))
    if not signals:
        return np.zeros((0, num_frames(num_samples), NUM_MFCC), "float32")
    signals = np.stack(signals)
    return np.concatenate(
        [mfcc(signals[i : i + batch_size]) for i in range(0, len(signals), batch_size)]
    )
