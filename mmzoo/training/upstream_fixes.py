"""Work-arounds for upstream bugs, each one easy to delete once fixed upstream.

keras-team/keras#20585 (open; Keras 3.15, TensorFlow 2.21): `Model.fit` under
`tf.distribute.MultiWorkerMirroredStrategy` fails twice.

1. `TensorFlowTrainer._maybe_symbolic_build` reduces the first distributed
   data batch eagerly with `strategy.reduce("MEAN", batch, axis=None)` to get
   a batch to trace the model with. Under the collective strategy that raises
   "Attempt to convert a value (PerReplica...) ... to a Tensor". Only the
   shapes and dtypes of that batch are used (it becomes `KerasTensor`s), so
   the first local replica's values serve as well. The same eager reduce
   fails under `MirroredStrategy` with two or more replicas when the batch
   holds strings (the raw transcripts of `gmu_mosi_hub` / `gmu_mosi_bert`,
   the captions): "AddN ... string" (found by
   `benchmarks/strategy_matrix.py`).
2. `reduce_per_replica(..., "mean")` reduces every log across workers with
   `strategy.reduce("MEAN", v, axis=0)`; the logs are scalars, and that raises
   "Invalid reduction dimension 0 for input with 0 dimensions". A scalar is
   reduced with `axis=None` (the mean over replicas); other ranks keep
   `axis=0`.

`apply()` patches both in place, once; `mmzoo.training.scale.make_strategy`
calls it for `mirrored` and `multi_worker` (fix 2 acts only under a
multi-worker strategy). To drop the work-around when upstream is fixed: delete
this module and its call in `make_strategy`.
"""

_APPLIED = False


def apply():
    """Patch keras' TensorFlow trainer (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    import keras
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                # Fix 1: a local replica's batch instead of an eager reduce.
                data_batch = tree.map_structure(
                    lambda v: (
                        self.distribute_strategy.experimental_local_results(v)[0]
                        if isinstance(v, tf.distribute.DistributedValues)
                        else v
                    ),
                    batch,
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    upstream_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        multi_worker = tf_trainer._collective_all_reduce_multi_worker(strategy)
        if reduction in ("auto", "mean") and multi_worker:
            # Fix 2: scalars are reduced over replicas with axis=None.
            def _reduce(v):
                if isinstance(v, keras.Variable):
                    # A log that is a variable (the MVAE's kl_scale): reduce
                    # its value, a tensor placed on this worker's replica.
                    v = tf.identity(v.value)
                if v.shape.rank == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return strategy.reduce("MEAN", v, axis=0)

            return tree.map_structure(_reduce, values)
        return upstream_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _APPLIED = True
