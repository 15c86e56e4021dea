"""Subsets of modalities: the MVAE's training objective and per-subset metrics."""

import itertools

import keras
import numpy as np
from keras import ops

from mmzoo.losses.elbo import (
    RECONSTRUCTIONS,
    categorical_reconstruction,
    kl_standard_normal,
    negative_elbo,
)
from mmzoo.models.mvae.networks import LIKELIHOODS

SCHEMES = ("all", "sampled")
MAX_ALL = 4  # 2^4 - 1 = 15 ELBO terms per step at most
PRESENCE = "presence"
_EPS = 1e-7


def subset_name(members):
    return "_".join(members)


def all_subsets(modalities):
    """Every non-empty subset, by size then in the order of `modalities`."""
    return [
        c
        for k in range(1, len(modalities) + 1)
        for c in itertools.combinations(modalities, k)
    ]


def training_subsets(modalities, scheme):
    """The fixed subsets of each step: all of them, or the joint and singles."""
    if scheme == "all":
        return all_subsets(modalities)
    fixed = [tuple(modalities)] + [(m,) for m in modalities]
    return list(dict.fromkeys(fixed))


def metric_names(modalities, fixed, num_random):
    names = ["loss", "classification", "accuracy"]
    terms = [(subset_name(s), s) for s in fixed]
    terms += [(f"random_{j}", tuple(modalities)) for j in range(num_random)]
    for name, members in terms:
        names += [f"nelbo_{name}", f"kl_{name}"]
        names += [f"recon_{m}_{name}" for m in members]
    return names


def _terms(model, batch):
    mods = model.modalities
    for s in model.training_subsets:
        yield subset_name(s), s, ops.array([float(m in s) for m in mods])
    for j in range(model.num_random_terms):
        # A uniform draw over the 2^N - 1 non-empty subsets, per example.
        code = keras.random.randint(
            (batch,), 1, 2 ** len(mods), seed=model.subset_seed_generator
        )
        bits = [ops.mod(ops.floor_divide(code, 2**i), 2) for i in range(len(mods))]
        yield f"random_{j}", tuple(mods), ops.cast(ops.stack(bits, 1), "float32")


def objective(model, x, y, training):
    """Mean over the batch of the summed subset objectives, and a dict of terms."""
    mods = model.modalities
    presence = ops.cast(x[PRESENCE], "float32")
    encoded = [model.encoders[m](x[m], training=training) for m in mods]
    mu = ops.stack([e[0] for e in encoded], axis=1)
    logvar = ops.stack([e[1] for e in encoded], axis=1)
    beta = model.kl_weight * ops.cast(model.kl_scale, "float32")
    weights = model.modality_weights or {}
    total, class_loss, logs = 0.0, 0.0, {}
    for name, members, subset_mask in _terms(model, ops.shape(presence)[0]):
        mask = presence * subset_mask
        joint_mu, joint_logvar = model.poe(mu, logvar, mask=mask)
        z = model.sampler(joint_mu, joint_logvar, sample=True)
        kl = kl_standard_normal(joint_mu, joint_logvar)
        masks = {m: mask[:, mods.index(m)] for m in members}
        recon = {
            m: RECONSTRUCTIONS[LIKELIHOODS[model.modality_types[m]]](
                x[m], model.decoders[m](z, training=training)
            )
            for m in members
        }
        nelbo = negative_elbo(recon, kl, weights, beta, masks)
        observed = ops.max(mask, axis=1) > 0
        ce = categorical_reconstruction(y, model.head(z, training=training))
        ce = ops.where(observed, ce, 0.0)
        total = total + nelbo + model.classifier_weight * ce
        class_loss = class_loss + ce
        logs[f"nelbo_{name}"] = ops.mean(nelbo)
        logs[f"kl_{name}"] = ops.mean(kl)
        for m in members:
            logs[f"recon_{m}_{name}"] = ops.mean(
                ops.where(ops.cast(masks[m], "bool"), recon[m], 0.0)
            )
    joint_mu, _ = model.poe(mu, logvar, mask=presence)
    predicted = ops.argmax(model.head(joint_mu, training=False), axis=-1)
    logs["accuracy"] = ops.mean(
        ops.cast(
            predicted == ops.cast(ops.reshape(y, (-1,)), predicted.dtype), "float32"
        )
    )
    logs["classification"] = ops.mean(class_loss)
    return ops.mean(total), logs


def complete_inputs(model, inputs, presence=None):
    """A full input dict: missing modalities zero-filled and marked absent.

    Args:
        inputs: dict of some modalities (and optionally `presence`).
        presence: optional (batch, N) 0/1 array in `model.modalities` order, or
            a dict modality -> (batch,) 0/1; combined with the keys present.
    """
    mods = model.modalities
    given = {m: np.asarray(inputs[m], "float32") for m in mods if m in inputs}
    unknown = sorted(set(inputs) - set(mods) - {PRESENCE})
    if unknown:
        raise ValueError(f"Unknown modalities {unknown}; the model has {mods}.")
    batch = None
    if given:
        batch = len(next(iter(given.values())))
    elif PRESENCE in inputs:
        batch = len(inputs[PRESENCE])
    elif presence is not None and not isinstance(presence, dict):
        batch = len(presence)
    if batch is None:
        raise ValueError(
            "Pass at least one modality or a presence mask to infer the batch size."
        )
    mask = np.ones((batch, len(mods)), "float32")
    for extra in (inputs.get(PRESENCE), presence):
        if isinstance(extra, dict):
            extra = np.stack(
                [np.asarray(extra.get(m, np.ones(batch)), "float32") for m in mods], 1
            )
        if extra is not None:
            extra = np.asarray(extra, "float32")
            if extra.shape != mask.shape:
                raise ValueError(
                    f"`presence` must have shape {mask.shape}. Received {extra.shape}"
                )
            mask = mask * extra
    full = {}
    for i, m in enumerate(mods):
        if m in given:
            full[m] = given[m]
        else:
            full[m] = np.zeros((batch, *model.input_shapes[m]), "float32")
            mask[:, i] = 0.0
    full[PRESENCE] = mask
    return full


def reconstruction_error(kind, target, reconstruction):
    """Per-example negative log-likelihood of a target given a reconstruction."""
    t = np.asarray(target, "float64").reshape(len(target), -1)
    r = np.asarray(reconstruction, "float64").reshape(len(target), -1)
    if kind == "image":
        r = np.clip(r, _EPS, 1 - _EPS)
        return -np.sum(t * np.log(r) + (1 - t) * np.log(1 - r), axis=1)
    if kind == "label":
        return -np.sum(t * np.log(np.clip(r, _EPS, 1.0)), axis=1)
    return 0.5 * np.sum(np.square(t - r), axis=1)


def evaluate_subsets(model, data, batch_size=256):
    """Accuracy, ELBO, KL and every modality's reconstruction error per subset.

    For each non-empty subset S (all of them up to `MAX_ALL` modalities, else
    the joint and the singles) the model sees only S (presence mask), and:

    - `accuracy`: of `probabilities` against the labels;
    - `reconstruction_error[m]`: mean negative log-likelihood of every modality
      m (in S or not: cross-modal generation) decoded from the posterior mean;
    - `kl`: mean KL(q(z | x_S) || N(0, I));
    - `elbo`: `-(sum_{m in S} reconstruction_error[m] + kl)`, the ELBO of x_S
      estimated at the posterior mean (a deterministic one-point estimate; no
      modality weights, KL weight 1).
    """
    mods = model.modalities
    scheme = (
        all_subsets(mods) if len(mods) <= MAX_ALL else training_subsets(mods, "sampled")
    )
    base = data.features.get(PRESENCE)
    labels = np.asarray(data.labels)
    results = {}
    for members in scheme:
        select = np.array([float(m in members) for m in mods], "float32")
        chunks = []
        for start in range(0, len(data), batch_size):
            batch = {m: data.features[m][start : start + batch_size] for m in mods}
            n = len(next(iter(batch.values())))
            mask = np.tile(select, (n, 1))
            if base is not None:
                mask = mask * base[start : start + batch_size]
            out = model({**batch, PRESENCE: mask}, training=False)
            chunks.append({k: np.asarray(v) for k, v in out.items()})
        out = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        errors = {
            m: float(
                np.mean(
                    reconstruction_error(
                        model.modality_types[m],
                        data.features[m],
                        out[f"reconstruction_{m}"],
                    )
                )
            )
            for m in mods
        }
        mean, var = out["latent_mean"], out["latent_variance"]
        kl = float(np.mean(-0.5 * np.sum(1 + np.log(var) - mean**2 - var, axis=1)))
        accuracy = float(np.mean(np.argmax(out["probabilities"], -1) == labels))
        results[subset_name(members)] = {
            "modalities": list(members),
            "accuracy": accuracy,
            "elbo": -(sum(errors[m] for m in members) + kl),
            "kl": kl,
            "reconstruction_error": errors,
        }
    return results
