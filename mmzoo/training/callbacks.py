"""Training callbacks: KL annealing for VAEs, stopping on a non-finite loss."""

import math
import time

import keras

from mmzoo.errors import MmzooError


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

    def get_state(self):
        """JSON state for `BackupAndResume`: the schedule follows the optimizer's
        step count (restored with the optimizer), so only the arguments."""
        return {
            "warmup_epochs": self.warmup_epochs,
            "steps_per_epoch": self.steps_per_epoch,
        }

    def set_state(self, state):
        self.warmup_epochs = state["warmup_epochs"]
        self.steps_per_epoch = state["steps_per_epoch"]


class NonFiniteLossError(MmzooError):
    """Training produced a NaN or Inf loss term."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first NaN or Inf logged value, naming it and the step.

    Every logged term is checked after each batch, or each execution of
    `steps_per_execution` batches (`loss`, the MVAE's
    `nelbo_*` and classifier terms, accuracy...) and at each epoch end (the
    validation terms too). It raises `NonFiniteLossError` from the callback,
    so the callbacks after it (the backup) never see the bad state: the last
    good backup is kept. Place it before `BackupAndResume`.

    Args:
        steps_per_epoch: int. For the global step in the message.
        hint: str. Appended to the message.
    """

    def __init__(self, steps_per_epoch, hint=""):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.hint = hint
        self.epoch, self.skip = 0, 0

    def start_epoch(self, epoch, skip):
        self.epoch, self.skip = int(epoch), int(skip)
        self._last_step = self.skip

    def on_train_batch_end(self, batch, logs=None):
        # Keras calls this once per execution of `steps_per_execution` steps,
        # with the index of the last one: the message names the steps run.
        step = self.skip + batch + 1
        first = getattr(self, "_last_step", self.skip) + 1
        self._last_step = step
        offset = self.epoch * self.steps_per_epoch
        steps = f"step {step}" if first >= step else f"steps {first}-{step}"
        where = (
            f"global step {offset + step}"
            if first >= step
            else f"global steps {offset + first}-{offset + step}"
        )
        self._check(logs, f"epoch {self.epoch + 1}, {steps} ({where})")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch + 1}")

    def _check(self, logs, where):
        for key, value in sorted((logs or {}).items()):
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"Training stopped: the loss term {key!r} is {value} at "
                    f"{where}; expected a finite value.{self.hint}"
                )


class EpochTimer(keras.callbacks.Callback):
    """Wall time of every epoch of a `fit` call (`times`), and the last epoch's
    logs (`last_logs`); for the benchmarks."""

    def __init__(self):
        super().__init__()
        self.times = []
        self.last_logs = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.last_logs = dict(logs or {})
