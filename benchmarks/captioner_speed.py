"""Captioner speed: batched tf.while_loop decoding vs a per-token eager loop,
cached encoder features vs the encoder in every training step, and encoder
FLOP/s as a fraction of a measured float32 matmul peak.

    python benchmarks/captioner_speed.py --data-dir ../shared/data \
        [--encoder inception_resnet_v2] [--image-size 139] [--epochs 3]

Prints a table and the ratios; never asserts on time.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmzoo.data import load_data  # noqa: E402
from mmzoo.models.captioner import Captioner, training  # noqa: E402
from mmzoo.training.callbacks import EpochTimer  # noqa: E402


def timed(fn, repeat=1):
    fn()  # warm-up / tracing
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def eager_greedy(model, features, max_length):
    """The seed notebook's decoder: one image, one token at a time, in Python."""
    out = []
    projected = model.decoder.project_features(features)
    for i in range(len(features)):
        state = model.decoder.initial_state(1)
        token = model.tokenizer.start_id
        for _ in range(max_length):
            logits, state, _ = model.decoder.step(
                projected[i : i + 1], tf.constant([token]), state
            )
            token = int(np.argmax(logits.numpy()[0]))
            if token == model.tokenizer.end_id:
                break
        out.append(token)
    return out


def best_time(fn, repeat):
    """Fastest of `repeat` calls after a warm-up (the machine is shared)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(sizes=(1024, 2048), repeat=5):
    """Best float32 matmul FLOP/s of TF (oneDNN/Eigen) and NumPy (BLAS)."""
    rates = {}
    for n in sizes:
        a = tf.random.normal([n, n])
        b = tf.random.normal([n, n])
        fn = tf.function(tf.autograph.experimental.do_not_convert(lambda: a @ b))
        rates[f"tf {n}"] = 2 * n**3 / best_time(lambda: fn().numpy(), repeat)
        an, bn = a.numpy(), b.numpy()
        rates[f"numpy {n}"] = 2 * n**3 / best_time(lambda: an @ bn, repeat)
    best = max(rates, key=rates.get)
    return rates[best], best


def encoder_flops(model):
    """Forward FLOPs of one image through the encoder (TF profiler count)."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    spec = tf.TensorSpec([1, model.image_size, model.image_size, 3], tf.float32)
    graph = tf.function(lambda x: model.image_encoder(x)).get_concrete_function(spec)
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return model_analyzer.profile(graph.graph, options=opts).total_float_ops


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("MMZOO_DATA_DIR", "data"))
    p.add_argument("--encoder", default="inception_resnet_v2")
    p.add_argument("--image-size", type=int, default=139)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--tokens", type=int, default=64, help="decoding length")
    p.add_argument("--max-length", type=int, default=20, help="training length")
    p.add_argument("--eager-images", type=int, default=4)
    p.add_argument(
        "--train-batch", type=int, default=64, help="training batch (both arms)"
    )
    p.add_argument(
        "--train-examples",
        type=int,
        default=0,
        help="first N (image, caption) pairs of the train split (0: all 400)",
    )
    args = p.parse_args()

    data = load_data("coco_mini", "train", args.data_dir, image_size=args.image_size)
    model = Captioner(  # widths and caption length of zoo_configs/captioner.yaml
        **Captioner.data_overrides(data),
        encoder=args.encoder,
        embedding_dim=128,
        attention_dim=128,
        max_length=args.max_length,
    )
    model.compile(optimizer="adam")
    images = data.features["image"][::5][: args.batch]
    feats = np.asarray(model.encode(images[: args.batch]))
    feats = np.resize(feats, (args.batch,) + feats.shape[1:])
    rows = []

    # 1. Decoding: captions/s, 64 tokens (no early stop: random weights rarely end).
    fn = model.caption_function("greedy", args.tokens, from_features=True)
    t_graph = timed(lambda: fn(tf.constant(feats))["tokens"].numpy(), 3)
    n_eager = args.eager_images
    t_eager = timed(lambda: eager_greedy(model, feats[:n_eager], args.tokens))
    graph_rate, eager_rate = args.batch / t_graph, n_eager / t_eager
    rows += [
        (
            "decode greedy, one tf.function (batch %d)" % args.batch,
            graph_rate,
            "captions/s",
        ),
        ("decode greedy, eager per-token loop", eager_rate, "captions/s"),
    ]

    # 2. Training epochs 2..N: cached features vs the encoder in every step.
    # Both arms: the same decoder (same initial weights), every (image, caption)
    # pair of the train split, the same batch size and order, one `fit` call of
    # `--epochs` epochs timed per epoch by a callback. "cached features" is
    # `Captioner.fit` with the frozen encoder: each distinct image is encoded
    # once before epoch 1 (timed apart), epochs run the decoder only. "encoder
    # every step" is the seed notebook's loop: the frozen encoder runs inside
    # every training step (`keras.Model.fit`, no cache).
    n = args.train_examples or len(data.labels)
    examples = {k: v[:n] for k, v in data.features.items()}
    ds = tf.data.Dataset.from_tensor_slices((examples, data.labels[:n]))
    ds = ds.batch(args.train_batch)
    decoder_weights = model.decoder.get_weights()
    hist = {}
    for name, cached in (("cached features", True), ("encoder every step", False)):
        m = Captioner(**model.get_config())  # frozen encoder in both arms
        m.image_encoder.set_weights(model.image_encoder.get_weights())
        m.decoder.set_weights(decoder_weights)
        m.compile(optimizer="adam")
        timer = EpochTimer()
        start = time.perf_counter()
        if cached:
            train = training.cached_feature_dataset(m, ds)
            encode_s = time.perf_counter() - start
            rows.append(
                (
                    f"encode {m.feature_cache.encoded} distinct images once",
                    encode_s,
                    "s",
                )
            )
        else:
            train = ds
        # keras.Model.fit: no cache (Captioner.fit would swap in features).
        keras.Model.fit(m, train, epochs=args.epochs, verbose=0, callbacks=[timer])
        later = timer.times[1:] or timer.times
        hist[name] = sum(later) / len(later)
        rows.append((f"train epoch 1, {name}", timer.times[0], "s"))
        rows.append((f"train epoch 2..{args.epochs}, {name}", hist[name], "s/epoch"))

    # 3. Encoder FLOP/s vs a matmul peak.
    flops = encoder_flops(model)
    x = tf.constant(images[: args.batch].astype("float32"))
    enc = tf.function(lambda v: model.image_encoder(v))
    t_enc = best_time(lambda: enc(x).numpy(), 3)
    enc_rate = flops * len(x) / t_enc
    peak, peak_name = matmul_peak()
    rows += [
        (f"encoder forward (batch {len(x)}, best of 3)", enc_rate / 1e9, "GFLOP/s"),
        (f"float32 matmul peak ({peak_name}^2, best)", peak / 1e9, "GFLOP/s"),
    ]

    print(
        f"\nencoder={args.encoder} image_size={args.image_size} "
        f"positions={feats.shape[1]} vocabulary={model.tokenizer.vocabulary_size} "
        f"devices={[d.device_type for d in tf.config.list_logical_devices()]}"
    )
    for name, value, unit in rows:
        print(f"{name:<48} {value:>10.2f} {unit}")
    print(
        f"{'ratio: batched graph / eager decoding':<48} "
        f"{graph_rate / eager_rate:>10.1f}x"
    )
    print(
        f"{'ratio: encoder-every-step / cached epoch time':<48} "
        f"{hist['encoder every step'] / hist['cached features']:>10.1f}x"
    )
    print(f"{'encoder FLOP/s / matmul peak':<48} {enc_rate / peak:>10.2f}")
    print(f"(encoder forward: {flops / 1e9:.2f} GFLOP per image)")


if __name__ == "__main__":
    main()
