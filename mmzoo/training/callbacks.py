"""Training callbacks: KL annealing for VAEs."""

import keras


class KLAnnealing(keras.callbacks.Callback):
    """Linear KL warm-up: the model's `kl_scale` goes from 0 to 1, step by step.

    Before each training batch, `kl_scale = min(1, step / (warmup_epochs *
    steps_per_epoch))` where `step` is the optimizer's iteration count, so a
    second `fit` call continues the schedule instead of restarting it. The model
    multiplies its KL term by `kl_weight * kl_scale` (Bowman et al. 2016; the
    MVAE paper anneals the KL weight from 0 to 1 over the first epochs).

    Args:
        warmup_epochs: float >= 0. Epochs of warm-up (0: `kl_scale = 1`).
        steps_per_epoch: int, optional. Defaults to the `steps` that `fit` knows.

    References:
        Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016.
        Wu and Goodman, "Multimodal Generative Models for Scalable
        Weakly-Supervised Learning", NeurIPS 2018.
    """

    def __init__(self, warmup_epochs, steps_per_epoch=None):
        super().__init__()
        if not isinstance(warmup_epochs, (int, float)) or warmup_epochs < 0:
            raise ValueError(
                "`warmup_epochs` must be >= 0. "
                f"Received warmup_epochs={warmup_epochs!r}"
            )
        self.warmup_epochs = warmup_epochs
        self.steps_per_epoch = steps_per_epoch

    def scale_at(self, step):
        steps = self.steps_per_epoch or (self.params or {}).get("steps") or 1
        total = self.warmup_epochs * steps
        return 1.0 if total <= 0 else min(1.0, float(step) / total)

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.model.kl_scale.assign(self.scale_at(step))
