"""MMIM's two training stages, its objective, and its three optimizers.

Stage 1 maximises the likelihood term `E[log q(y|x)]` of the Barber-Agakov
bound of every pair (text -> audio, text -> video) with respect to the
estimators' (`GaussianPredictor`) weights only, on stop-gradient copies of the
modality representations. Stage 2 minimises the main loss

    L_main = L_task + alpha * L_CPC - beta * (sum of BA bounds)
    BA bound (x -> y) = E[log q(y|x)] + H(Y)

with respect to every other trainable weight: the text backbone with the
`text_optimizer` (its own learning rate), the rest with the model's
`optimizer`. `L_CPC` is the InfoNCE *loss* of the fusion against each modality
(the negative of the CPC lower bound), so both MI terms are maximised.

Paper vs authors' code (src/solver.py): the code runs stage 1 over the whole
training set, then stage 2 over it, every epoch; here both stages run on each
batch in one `train_step` (stage 1 first, so stage 2 sees the updated
estimators), sharing one forward pass of the encoders. The code adds
`-beta * H` only after its memory holds a batch; `MixtureEntropyEstimator`
estimates from the current batch while its memory fills. The code weights CPC
by `alpha` and both BA terms (likelihood and entropy) by `beta`; we follow it.
"""

import keras
from keras import ops

from mmzoo.losses import gaussian_log_likelihood, info_nce
from mmzoo.models.mmim.estimators import MODALITIES, PAIRS
from mmzoo.training import scale

STAGES = (1, 2)


def variable_groups(model):
    """{"estimator", "text", "main"}: disjoint lists of trainable variables."""
    estimator = {
        id(v) for e in model.estimators.values() for v in e.trainable_variables
    }
    text = set()
    if model.text_backbone is not None:
        text = {id(v) for v in model.text_backbone.trainable_variables}
    groups = {"estimator": [], "text": [], "main": []}
    for v in model.trainable_variables:
        key = "estimator" if id(v) in estimator else "text" if id(v) in text else "main"
        groups[key].append(v)
    return groups


def clone_optimizer(optimizer, learning_rate, name):
    """A fresh optimizer of the same class and settings at another rate."""
    config = dict(optimizer.get_config())
    config.update(learning_rate=float(learning_rate), name=name)
    return optimizer.__class__.from_config(config)


def apply_gradients(optimizer, grads, variables):
    """`optimizer.apply` on the variables that received a gradient."""
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if pairs:
        optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])


def pair_likelihoods(model, reps, training):
    """{"text_audio": ..., "text_video": ...}: batch means of log q(y|x)."""
    out = {}
    for x, y in PAIRS:
        mu, logvar = model.estimators[f"{x}_{y}"](reps[x], training=training)
        out[f"{x}_{y}"] = ops.mean(
            gaussian_log_likelihood(reps[y], mu, logvar, model.include_logvar)
        )
    return out


def task_terms(model, logits, y):
    """(task loss, score, positive-group flags) of a batch, in float32."""
    logits = ops.cast(logits, "float32")
    if model.task == "classification":
        labels = ops.cast(ops.reshape(y, (-1,)), "int32")
        loss = ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True
            )
        )
        hits = ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels)
        return (
            loss,
            ops.mean(ops.cast(hits, "float32")),
            ops.cast(labels == 1, "float32"),
        )
    # Regression: L1, as the reference's criterion for MOSI/MOSEI scores.
    target = ops.cast(ops.reshape(y, (-1,)), "float32")
    loss = ops.mean(ops.abs(logits[:, 0] - target))
    return loss, loss, ops.cast(target > 0, "float32")


def main_objective(model, reps, y, training):
    """Stage 2's loss and its terms (dict of float32 scalars).

    Under a multi-replica `tf.distribute` strategy the batch-level terms (CPC's
    negatives and the mixture entropy) see the global batch, gathered from
    every replica, so that training equals single-device training on the same
    global batches; the per-example terms use the replica's own examples.
    """
    task, score, positive = task_terms(model, reps["logits"], y)
    every = scale.gather_across_replicas
    cpc = sum(
        info_nce(every(model.cpc[m](reps["fusion"])), every(reps[m]))
        for m in MODALITIES
    )
    likelihood = sum(pair_likelihoods(model, reps, training).values())
    entropy = sum(
        model.entropy_estimators[t](
            every(model.entropy_projections[t](reps[t])),
            every(positive),
            training=training,
        )
        for _, t in PAIRS
    )
    bound = likelihood + entropy
    loss = task + model.alpha * cpc - model.beta * bound
    logs = {
        "loss": loss,
        "task_loss": task,
        "cpc_loss": cpc,
        "ba_bound": bound,
        "entropy": entropy,
        model.score_name: score,
    }
    return loss, logs


def run_stages(model, data, stages=STAGES):
    """One training step of the given stages on a batch; returns the logs.

    Stage 1 logs `likelihood` (the summed batch means of log q(y|x) before the
    update, i.e. minus the estimator loss); stage 2 logs the terms of
    `main_objective`.
    """
    # The TensorFlow backend's GradientTape: the zoo trains on TF.
    import tensorflow as tf

    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    x = model.model_inputs(x)
    groups = variable_groups(model)
    logs = {}
    tape = tf.GradientTape()
    with tape:
        reps = model.representation_model(x, training=True)
    if 1 in stages:
        # Outside the main tape (its `stop_recording` would pause every tape).
        fixed = {k: ops.stop_gradient(v) for k, v in reps.items()}
        with tf.GradientTape() as estimator_tape:
            likelihood = sum(pair_likelihoods(model, fixed, True).values())
            estimator_loss = scale.scale_loss_for_distribution(-likelihood)
        grads = estimator_tape.gradient(estimator_loss, groups["estimator"])
        apply_gradients(model.estimator_optimizer, grads, groups["estimator"])
        logs["likelihood"] = likelihood
    if 2 in stages:
        with tape:  # resumes recording: the estimators now hold their update
            loss, main_logs = main_objective(model, reps, y, training=True)
            scaled = scale.scale_loss_for_distribution(loss)
        grads = tape.gradient(scaled, groups["text"] + groups["main"])
        count = len(groups["text"])
        apply_gradients(model.text_optimizer, grads[:count], groups["text"])
        apply_gradients(model.optimizer, grads[count:], groups["main"])
        logs.update(main_logs)
    return logs


def evaluate_batch(model, data):
    """Every term of a batch in inference mode (no update, memory untouched)."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    reps = model.representation_model(model.model_inputs(x), training=False)
    likelihood = sum(pair_likelihoods(model, reps, False).values())
    _, logs = main_objective(model, reps, y, training=False)
    logs["likelihood"] = likelihood
    return logs
