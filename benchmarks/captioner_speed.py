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

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmzoo.data import load_data  # noqa: E402
from mmzoo.models.captioner import Captioner  # noqa: E402


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


def matmul_peak(n=2048, repeat=5):
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    fn = tf.function(lambda: tf.matmul(a, b))
    seconds = timed(lambda: fn().numpy(), repeat)
    return 2 * n**3 / seconds


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
    p.add_argument("--image-size", type=int, default=75)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--eager-images", type=int, default=4)
    args = p.parse_args()

    data = load_data("coco_mini", "train", args.data_dir, image_size=args.image_size)
    model = Captioner(
        **Captioner.data_overrides(data), encoder=args.encoder, max_length=args.tokens
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
    ds = tf.data.Dataset.from_tensor_slices((data.features, data.labels)).batch(64)
    hist = {}
    for name, fine_tune in (("cached features", False), ("encoder every step", True)):
        m = Captioner(**model.get_config() | {"fine_tune_encoder": fine_tune})
        m.image_encoder.set_weights(model.image_encoder.get_weights())
        if fine_tune:  # same work as a frozen encoder run without the cache
            m.image_encoder.trainable = False
            m.fit = super(Captioner, m).fit
        m.compile(optimizer="adam")
        times = []
        for epoch in range(args.epochs):
            start = time.perf_counter()
            m.fit(ds, epochs=1, verbose=0)
            times.append(time.perf_counter() - start)
        hist[name] = sum(times[1:]) / max(len(times) - 1, 1)
        rows.append((f"train epoch 2..{args.epochs}, {name}", hist[name], "s/epoch"))

    # 3. Encoder FLOP/s vs a matmul peak.
    flops = encoder_flops(model)
    x = tf.constant(images[: args.batch].astype("float32"))
    enc = tf.function(lambda v: model.image_encoder(v))
    t_enc = timed(lambda: enc(x).numpy(), 2)
    enc_rate = flops * len(x) / t_enc
    peak = matmul_peak()
    rows += [
        ("encoder forward", enc_rate / 1e9, "GFLOP/s"),
        ("float32 matmul 2048^3", peak / 1e9, "GFLOP/s"),
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
