"""Precision, XLA and `tf.distribute` strategies for training.

`train.precision` (`--precision`) picks the Keras dtype policy the model is
built under: `float32`, `mixed_bfloat16` or `mixed_float16` (float16 adds loss
scaling: Keras wraps the optimizer in a `LossScaleOptimizer` when the model is
compiled under that policy). Variables stay float32; log-densities, KL terms,
log-determinants and the output softmax are computed in float32 by the layers
and losses themselves.

`train.strategy` (`--strategy`) picks the `tf.distribute` strategy:

- `one_device`: TensorFlow's default strategy (one device: the first GPU,
  else the CPU);
- `mirrored`: `MirroredStrategy` over every local GPU (without GPUs, over every
  logical CPU device; `MMZOO_CPU_REPLICAS=N` splits the CPU into N logical
  devices first, to try data parallelism on a machine without GPUs);
- `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster comes from
  `TF_CONFIG`, or from Slurm's environment (`SlurmClusterResolver`) when
  `TF_CONFIG` is not set and `SLURM_JOB_ID` is;
- `auto`: `multi_worker` when `TF_CONFIG` names more than one task, else
  `mirrored` when there is more than one local GPU, else `one_device`.

`train.batch_size` is the batch of one replica: the global batch of a step is
`batch_size * replicas`, split evenly across the replicas. The learning rate
follows `train.lr_scaling`: `linear` (the default; Goyal et al. 2017,
"Accurate, Large Minibatch SGD") multiplies `train.learning_rate` by the number
of replicas, so that one replica trains exactly as before and N replicas train
like one device on the N times larger global batch at N times the rate; `none`
keeps `train.learning_rate` for the global batch. (MMIM's
`text_learning_rate` and `estimator_learning_rate` are model settings and are
not rescaled.)

Exactness: with the global batch split evenly, N replicas train to the same
weights as one device on the same global batches (the tests check 1e-5) --
batch-level terms (MMIM's CPC and mixture entropy) gather the global batch,
and `GaussianSample` draws the global batch's noise -- except for what each
replica draws on its own (dropout masks, the MVAE's sampled subsets) and for
`clipnorm`, which Keras applies to each replica's gradient before the
replicas' gradients are summed.
"""

import contextlib
import json
import os

from mmzoo import envvars
from mmzoo.errors import ConfigError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
LR_SCALINGS = ("linear", "none")


def check_train_options(train):
    """Refuse unknown precision, strategy or lr_scaling values (ConfigError)."""
    for key, valid in (
        ("precision", PRECISIONS),
        ("strategy", STRATEGIES),
        ("lr_scaling", LR_SCALINGS),
    ):
        value = train.get(key)
        if value not in valid:
            raise ConfigError(
                f"train.{key} must be one of {', '.join(valid)}. Received {value!r}"
            )


@contextlib.contextmanager
def precision_scope(precision):
    """Build models under the dtype policy `precision`; restore it after."""
    # Imported here: mmzoo.models imports this module (the MVAE's train step).
    from mmzoo.models.base import global_dtype_policy

    if precision not in PRECISIONS:
        raise ConfigError(
            f"--precision must be one of {', '.join(PRECISIONS)}. "
            f"Received {precision!r}"
        )
    with global_dtype_policy(precision):
        yield


def cluster_spec():
    """`(cluster dict, task dict)` from `TF_CONFIG`, or `({}, {})`."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}, {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}")
    return config.get("cluster") or {}, config.get("task") or {}


def num_tasks():
    cluster, _ = cluster_spec()
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))


def make_strategy(name):
    """The `tf.distribute.Strategy` of `train.strategy` (see the module doc)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ConfigError(
            f"--strategy must be one of {', '.join(STRATEGIES)}. Received {name!r}"
        )
    if name == "auto":
        # Physical devices: listing logical ones would start the runtime,
        # which a multi-worker strategy must configure first.
        if num_tasks() > 1:
            name = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "one_device":
        # The default strategy: TensorFlow places ops on the first GPU, else
        # the CPU, and Keras trains exactly as without a strategy.
        return tf.distribute.get_strategy()
    from mmzoo.training import upstream_fixes

    upstream_fixes.apply()
    if name == "mirrored":
        _split_cpu(os.environ.get(envvars.CPU_REPLICAS))
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    resolver = None
    if not os.environ.get("TF_CONFIG") and os.environ.get("SLURM_JOB_ID"):
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


def _split_cpu(replicas):
    """Split the CPU into `replicas` logical devices (`MMZOO_CPU_REPLICAS`),
    when there is no GPU and the runtime has not started yet."""
    import tensorflow as tf

    if not replicas or tf.config.list_physical_devices("GPU"):
        return
    try:
        n = int(replicas)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(
            f"{envvars.CPU_REPLICAS} must be an integer >= 1. Received {replicas!r}"
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    except RuntimeError as e:  # the runtime already started
        current = len(tf.config.list_logical_devices("CPU"))
        if current != n:
            raise ConfigError(
                f"{envvars.CPU_REPLICAS}={n}: TensorFlow has already started with "
                f"{current} CPU device(s); set it before the first TensorFlow op"
            ) from e


def is_multi_worker(strategy):
    """True for `MultiWorkerMirroredStrategy` (one step per execution: Keras'
    multi-step loop over a distributed iterator fails under it)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """True on the one worker that writes the run directory and exports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not num_tasks():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def effective_learning_rate(train, replicas):
    """`train.learning_rate` after `train.lr_scaling` for `replicas` replicas."""
    rate = float(train["learning_rate"])
    return rate * replicas if train.get("lr_scaling", "linear") == "linear" else rate


def scale_loss_for_distribution(loss):
    """`loss / replicas in sync`, as Keras' `compute_loss` scales its loss.

    Custom `train_step`s (MVAE, MMIM) compute a mean over their replica's share
    of the global batch; the optimizer sums the replicas' gradients, so each
    replica's loss is divided by the number of replicas (Keras'
    `keras.src.losses.loss.scale_loss_for_distribution`, not public API).
    """
    from keras.src.losses.loss import scale_loss_for_distribution as keras_scale

    return keras_scale(loss)


def replica_position():
    """`(replica id, replicas in sync)` inside a replica context, else (0, 1)."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def gather_across_replicas(x):
    """The global batch of `x` (concatenated in replica order) on every replica.

    For batch-level terms (CPC's negatives, the mixture entropy's covariance)
    that must see the whole global batch to equal single-device training. Each
    replica then computes the same global term; its gradient flows back
    through `all_gather` (whose gradient sums the replicas' upstream
    gradients), so with the loss scaled by `scale_loss_for_distribution` the
    summed gradient equals the single-device one. Outside a multi-replica
    context `x` is returned as is.
    """
    import tensorflow as tf

    _, replicas = replica_position()
    if replicas == 1:
        return x
    return tf.distribute.get_replica_context().all_gather(x, axis=0)
