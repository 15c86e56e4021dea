"""The Multimodal VAE (MVAE) model: a functional graph plus an ELBO train step."""

import keras
from keras import ops

from mmzoo.layers.gaussian_sample import GaussianSample
from mmzoo.layers.product_of_experts import ProductOfExperts
from mmzoo.models.base import ZooModel
from mmzoo.models.mvae import networks
from mmzoo.models.mvae import subsets as subset_lib
from mmzoo.models.mvae.checks import check_model_args
from mmzoo.registry import register_model
from mmzoo.training.scale import scale_loss_for_distribution

PRESENCE = subset_lib.PRESENCE


@register_model("mvae")
@keras.saving.register_keras_serializable(package="mmzoo")
class MVAE(ZooModel):
    """Multimodal VAE: per-modality experts joined by a product of experts.

    Every modality m has an encoder q(z | x_m) = N(mu_m, diag exp(logvar_m)) and
    a decoder p(x_m | z). The joint posterior of any subset S of modalities is
    the product of the N(0, I) prior expert and the experts of S
    (`ProductOfExperts`), so one model infers z from any subset. A classifier
    head on z gives class probabilities.

    Inputs (dict): each modality (batch, *input_shapes[m]) and `presence`
    (batch, num_modalities) of 0/1 in the sorted order of the modality names
    (see `modalities`); a missing modality is masked out of the product (its
    input values are ignored, zeros are fine). Outputs (dict, float32):

    - `probabilities`: (batch, num_classes), from the posterior of the present
      modalities among `classify_from`.
    - `latent_mean`, `latent_variance`: (batch, latent_dim), the joint posterior
      of the present modalities.
    - `reconstruction_<m>` for every modality: pixel probabilities (image), the
      Gaussian mean (features) or class probabilities (label), decoded from the
      posterior mean (a sample with `training=True`).

    Training (`train_step`) minimises, per example, the sum over subsets S of
    the negative ELBO of x_S:
    `sum_{m in S} lambda_m * recon_m(x_m | z) + beta * KL(q(z | x_S) || p(z))`,
    z ~ q(z | x_S), plus `classifier_weight` times the cross-entropy of the
    classifier head at that z. `subsets="all"` uses all 2^N - 1 subsets
    (N <= 4); `"sampled"` uses the paper's sub-sampled objective: the joint,
    each single modality and `num_random_subsets` random subsets (drawn per
    example). Subsets are intersected with `presence`, so examples with
    missing modalities train on what they have. beta = `kl_weight * kl_scale`,
    with `kl_scale` warmed up linearly over `kl_warmup_epochs` by the
    `KLAnnealing` callback that `fit` adds.

    Paper vs authors' code: the paper (section 3) trains on the ELBO of the
    full set, of each single modality and of k random subsets; the authors'
    MNIST code uses the joint and the single-modality terms (no random subset)
    and also puts the prior expert in the product. Both use the prior expert
    here; the paper's random subsets are `num_random_subsets` (0 gives the
    code's objective). The classifier head is not in the paper (which reads
    labels as a modality, as `mvae_mnist` does too); it serves the zoo's
    `probabilities` output.

    Args:
        input_shapes: dict. Modality name -> shape without batch (list of int).
        modality_types: dict. Modality name -> `"image"`, `"features"` or
            `"label"` (see `networks`).
        num_classes: int. Classes of the classifier head.
        latent_dim: int. Size of z.
        hidden_units: list of int. Dense widths of encoders (decoders mirror).
        conv_filters: list of int. Conv filters of image encoders/decoders.
        classifier_units: list of int. Dense widths of the classifier head.
        subsets: str. `"all"` or `"sampled"` (see above).
        num_random_subsets: int. k random subsets per step for `"sampled"`.
        modality_weights: dict, optional. Modality -> lambda_m (default 1).
        kl_weight: float. beta once warmed up.
        kl_warmup_epochs: float. Linear KL warm-up (0: none).
        classifier_weight: float. Weight of the cross-entropy of each term.
        classify_from: list of str, optional. Modalities the `probabilities`
            output may use (default all); `mvae_mnist` classifies from `image`.
        seed: int, optional. Seed of the sampling layers.
        name: str. Model name.

    References:
        Wu and Goodman, "Multimodal Generative Models for Scalable
        Weakly-Supervised Learning", NeurIPS 2018 (arXiv:1802.05335); code:
        github.com/mhw32/multimodal-vae-public.
    """

    def __init__(
        self,
        input_shapes,
        modality_types,
        num_classes=10,
        latent_dim=32,
        hidden_units=(256,),
        conv_filters=(32, 64),
        classifier_units=(64,),
        subsets="all",
        num_random_subsets=1,
        modality_weights=None,
        kl_weight=1.0,
        kl_warmup_epochs=0.0,
        classifier_weight=1.0,
        classify_from=None,
        seed=None,
        name="mvae",
        **kwargs,
    ):
        modalities = check_model_args(
            input_shapes,
            modality_types,
            num_classes,
            latent_dim,
            subsets,
            num_random_subsets,
            modality_weights,
            classify_from,
        )
        shapes = {m: [int(d) for d in input_shapes[m]] for m in modalities}
        args = (latent_dim, list(hidden_units), list(conv_filters))
        for m in modalities:
            networks.check_network_args(
                m, modality_types[m], shapes[m], hidden_units, conv_filters
            )

        # === Layers ===
        encoders = {
            m: networks.build_encoder(m, modality_types[m], shapes[m], *args)
            for m in modalities
        }
        decoders = {
            m: networks.build_decoder(m, modality_types[m], shapes[m], *args)
            for m in modalities
        }
        poe = ProductOfExperts(name="product_of_experts")
        sampler = GaussianSample(seed=seed, name="gaussian_sample")
        head = keras.Sequential(
            [keras.layers.Dense(u, activation="relu") for u in classifier_units]
            + [keras.layers.Dense(num_classes)],
            name="classifier",
        )

        # === Functional model ===
        inputs = {m: keras.Input(tuple(shapes[m]), name=m) for m in modalities}
        inputs[PRESENCE] = keras.Input((len(modalities),), name=PRESENCE)
        encoded = [encoders[m](inputs[m]) for m in modalities]
        mu = ops.stack([e[0] for e in encoded], axis=1)
        logvar = ops.stack([e[1] for e in encoded], axis=1)
        joint_mu, joint_logvar = poe(mu, logvar, mask=inputs[PRESENCE])
        z = sampler(joint_mu, joint_logvar)
        outputs = {}
        if classify_from is None or set(classify_from) == set(modalities):
            z_class = z
        else:
            allowed = [float(m in classify_from) for m in modalities]
            mask = ops.multiply(inputs[PRESENCE], ops.array(allowed, "float32"))
            z_class = sampler(*poe(mu, logvar, mask=mask))
        outputs["probabilities"] = keras.layers.Softmax(
            dtype="float32", name="probabilities"
        )(head(z_class))
        outputs["latent_mean"] = keras.layers.Identity(
            dtype="float32", name="latent_mean"
        )(joint_mu)
        outputs["latent_variance"] = keras.layers.Activation(
            "exponential", dtype="float32", name="latent_variance"
        )(joint_logvar)
        for m in modalities:
            activation = networks.output_activation(modality_types[m], m)
            outputs[f"reconstruction_{m}"] = activation(decoders[m](z))
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.input_shapes = shapes
        self.modality_types = {m: modality_types[m] for m in modalities}
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.hidden_units = list(hidden_units)
        self.conv_filters = list(conv_filters)
        self.classifier_units = list(classifier_units)
        self.subsets = subsets
        self.num_random_subsets = num_random_subsets
        self.modality_weights = dict(modality_weights) if modality_weights else None
        self.kl_weight = float(kl_weight)
        self.kl_warmup_epochs = kl_warmup_epochs
        self.classifier_weight = float(classifier_weight)
        self.classify_from = list(classify_from) if classify_from else None
        self.seed = seed
        self.modalities = modalities

        # === Training state ===
        self.encoders, self.decoders, self.head = encoders, decoders, head
        self.poe, self.sampler = poe, sampler
        self.kl_scale = keras.Variable(
            0.0 if kl_warmup_epochs else 1.0, trainable=False, name="kl_scale"
        )
        self.subset_seed_generator = keras.random.SeedGenerator(
            seed, name="subset_seed_generator"
        )
        self.training_subsets = subset_lib.training_subsets(modalities, subsets)
        self.num_random_terms = num_random_subsets if subsets == "sampled" else 0
        self.trackers = {
            n: keras.metrics.Mean(name=n)
            for n in subset_lib.metric_names(
                modalities, self.training_subsets, self.num_random_terms
            )
        }

    # --- training ----------------------------------------------------------

    @property
    def metrics(self):
        return list(self.trackers.values())

    def fit(self, *args, callbacks=None, **kwargs):
        from mmzoo.training.callbacks import KLAnnealing

        callbacks = list(callbacks or [])
        if self.kl_warmup_epochs and not any(
            isinstance(c, KLAnnealing) for c in callbacks
        ):
            callbacks.append(KLAnnealing(self.kl_warmup_epochs))
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def train_step(self, data):
        # The TensorFlow backend's GradientTape: the project trains on TF.
        import tensorflow as tf

        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            loss, logs = self.objective(x, y, training=True)
            # Each replica's mean over its share of the global batch; the
            # optimizer sums the replicas' gradients (as Keras' compute_loss).
            scaled = self.optimizer.scale_loss(scale_loss_for_distribution(loss))
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return self._update_trackers(loss, logs)

    def test_step(self, data):
        x, y = data[0], data[1]
        loss, logs = self.objective(x, y, training=False)
        return self._update_trackers(loss, logs)

    def objective(self, x, y, training=False):
        """Mean over the batch of the summed subset objectives, and its terms."""
        return subset_lib.objective(self, x, y, training)

    def _update_trackers(self, loss, logs):
        self.trackers["loss"].update_state(loss)
        for key, value in logs.items():
            self.trackers[key].update_state(value)
        results = {k: t.result() for k, t in self.trackers.items()}
        results["kl_scale"] = ops.convert_to_tensor(self.kl_scale)
        return results

    # --- inference from any subset -----------------------------------------

    def complete_inputs(self, inputs, presence=None):
        """Fill missing modalities with zeros and mark them absent."""
        return subset_lib.complete_inputs(self, inputs, presence)

    def encode(self, inputs, presence=None):
        """(latent mean, latent variance) of the present modalities."""
        out = self(self.complete_inputs(inputs, presence), training=False)
        return out["latent_mean"], out["latent_variance"]

    def reconstruct(self, inputs, presence=None):
        """Every modality's reconstruction from the present ones."""
        out = self(self.complete_inputs(inputs, presence), training=False)
        return {m: out[f"reconstruction_{m}"] for m in self.modalities}

    def classify(self, inputs, presence=None):
        """Class probabilities from the present modalities."""
        out = self(self.complete_inputs(inputs, presence), training=False)
        return out["probabilities"]

    def decode(self, z):
        """Every modality decoded from latents z (batch, latent_dim)."""
        return {
            m: networks.output_activation(self.modality_types[m], m)(
                self.decoders[m](z, training=False)
            )
            for m in self.modalities
        }

    def evaluate_subsets(self, data, batch_size=256):
        """Accuracy, ELBO and reconstruction errors for every subset."""
        return subset_lib.evaluate_subsets(self, data, batch_size)

    # --- config ------------------------------------------------------------

    def default_compile_args(self):
        return {}  # train_step computes the loss and its own metrics

    def get_config(self):
        return {
            "input_shapes": {m: list(s) for m, s in self.input_shapes.items()},
            "modality_types": dict(self.modality_types),
            "num_classes": self.num_classes,
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "conv_filters": list(self.conv_filters),
            "classifier_units": list(self.classifier_units),
            "subsets": self.subsets,
            "num_random_subsets": self.num_random_subsets,
            "modality_weights": self.modality_weights,
            "kl_weight": self.kl_weight,
            "kl_warmup_epochs": self.kl_warmup_epochs,
            "classifier_weight": self.classifier_weight,
            "classify_from": self.classify_from,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def data_overrides(cls, data):
        return {
            "input_shapes": {
                m: list(s) for m, s in data.feature_dims.items() if m != PRESENCE
            },
            "num_classes": int(data.num_classes),
        }
