"""Encoder features computed once per image and reused (memory + optional disk).

The key of an image's features is a digest of its pixels (so of its file and
its resized size) and a fingerprint of the encoder: its identity (the
captioner's encoder name or spec -- a TF-Hub handle and output key, a
keras-hub class and config, the pixel scaling -- and image size) and its
weights. A changed image, image size, encoder or set of weights never reuses
stale features. With `directory`, features are also stored as
`<directory>/<encoder fingerprint>/<digest>.npy`.
"""

import hashlib
from pathlib import Path

import numpy as np


def image_digest(image):
    """sha1 of an image array's shape, dtype and bytes."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha1(f"{image.shape}{image.dtype}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def weights_fingerprint(model, identity=""):
    """sha1 over `identity` and every weight of `model` (names, shapes and
    values)."""
    h = hashlib.sha1(str(identity).encode("utf8"))
    for w in model.weights:
        value = np.ascontiguousarray(w.numpy())
        h.update(f"{w.path}{value.shape}{value.dtype}".encode())
        h.update(value.tobytes())
    return h.hexdigest()[:16]


class FeatureCache:
    """`cache.features(encoder, images)` -> encoder features, each image once.

    Args:
        directory: str or path, optional. Persist features across runs here.
        batch_size: int. Images per encoder call for the missing ones.
    """

    def __init__(self, directory=None, batch_size=32):
        self.directory = Path(directory).expanduser() if directory else None
        self.batch_size = batch_size
        self._memory = {}
        self.encoded = 0  # images run through the encoder (for tests/benchmarks)

    def features(self, encoder, images, digests=None, identity=""):
        """(n, positions, channels) float32 features of `images` (n, S, S, 3).

        `identity`: a string naming the encoder (see `encoder_identity`),
        part of the keys with the weights' fingerprint.
        """
        fingerprint = weights_fingerprint(encoder, identity)
        if digests is None:
            digests = [image_digest(im) for im in images]
        keys = [(fingerprint, d) for d in digests]
        missing = {}
        for i, key in enumerate(keys):
            if key not in self._memory and key not in missing:
                loaded = self._load(key)
                if loaded is None:
                    missing[key] = i
                else:
                    self._memory[key] = loaded
        order = list(missing)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = np.stack([images[missing[k]] for k in chunk])
            out = np.asarray(encoder(batch, training=False), dtype="float32")
            self.encoded += len(chunk)
            for key, value in zip(chunk, out):
                self._memory[key] = value
                self._save(key, value)
        return np.stack([self._memory[k] for k in keys])

    def _path(self, key):
        return self.directory / key[0] / f"{key[1]}.npy"

    def _load(self, key):
        if self.directory is None or not self._path(key).is_file():
            return None
        return np.load(self._path(key))

    def _save(self, key, value):
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, value)
        tmp.replace(path)
