"""The environment variables mmzoo reads, by name, in one place.

This module imports nothing, so that `mmzoo.cli` can use the names before
TensorFlow starts.
"""

DATA_DIR = "MMZOO_DATA_DIR"  # the data sets (`mmzoo.data.base.data_dir`)
TFDS_DIR = "MMZOO_TFDS_DIR"  # prepared records (`mmzoo.data.tfds_builders`)
# Split the CPU into N logical devices, one replica each (`mmzoo.training.scale`).
CPU_REPLICAS = "MMZOO_CPU_REPLICAS"
# "1": a multi-worker run's non-chief worker keeps its scratch run directory.
KEEP_WORKER_DIR = "MMZOO_KEEP_WORKER_DIR"
# Tests only: kill the training process at a step (`mmzoo.training.backup`).
TEST_KILL_AT = "MMZOO_TEST_KILL_AT"
VERBOSE_TF = "MMZOO_VERBOSE_TF"  # "1": the CLI lets TensorFlow's start-up log through
QUICK = "MMZOO_QUICK"  # "1": notebooks run on a small budget
