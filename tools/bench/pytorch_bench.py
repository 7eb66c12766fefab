#!/usr/bin/python3
"""tools/bench/pytorch_bench.py NETWORK [options] - the PyTorch side of the
netrun-vs-PyTorch benchmark (see tools/bench/README.md).

Trains NETWORK (ex1_mlp, ex2_cnn or ex5_residual_deep) on MNIST with plain
SGD, batch 64, shuffled each epoch, on a fixed number of CPU threads, and
prints ONE JSON line:

  {"tool": "pytorch", "network": ..., "epoch_seconds": [...],
   "test_seconds": ..., "test_acc": ..., "images_per_second": ...,
   "peak_rss_mb": ..., "startup_seconds": ..., "blas_threads": ...,
   "openblas_num_threads_env": ...}

epoch_seconds: wall time of each training epoch (shuffle + all batches:
forward, loss, backward, SGD step), data already in memory as [0,1] floats.
test_seconds: wall time of one forward pass over the test set after the last
epoch (no_grad, eval mode). images_per_second: training images / median
epoch time. peak_rss_mb: peak resident set size of this process, from
getrusage (ru_maxrss, KiB on Linux) / 1024. startup_seconds: from the
process's start (its start time in /proc/self/stat, 10 ms ticks: it includes
the interpreter's start, `import torch`, reading the data, building the
model) to the first training batch; null where /proc is missing.
blas_threads: the thread count of the OpenBLAS this process loaded
(openblas_get_num_threads); openblas_num_threads_env: OPENBLAS_NUM_THREADS as
OpenBLAS saw it when it was loaded (null: unset, OpenBLAS's default).

Needs Debian's python3-torch (1.13) and numpy; reads the IDX files itself
(no torchvision). Run it with /usr/bin/python3 (Debian's interpreter, the one
python3-torch installs into).
"""

import argparse
import ctypes
import ctypes.util
import gzip
import json
import os
import resource
import statistics
import sys
import time


def process_age():
    """Seconds since this process started (fork), from /proc/self/stat's
    start time (clock ticks since boot) and CLOCK_BOOTTIME; None without
    /proc."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return age if 0.0 <= age < 86400.0 else None

# OpenBLAS reads its thread count when it is loaded (by numpy or torch), so
# --blas-threads must be in the environment before those imports.
if __name__ == "__main__":
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument("--blas-threads", type=int, default=1)
    _blas_threads = _pre.parse_known_args()[0].blas_threads
    if _blas_threads > 0:
        os.environ["OPENBLAS_NUM_THREADS"] = str(_blas_threads)
OPENBLAS_ENV = os.environ.get("OPENBLAS_NUM_THREADS")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

NETWORKS = ("ex1_mlp", "ex2_cnn", "ex5_residual_deep")
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "..", "data", "mnist-idx")


def read_idx(path):
    """Reads an IDX file (optionally .gz) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4",
              0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX element type 0x{raw[2]:02x}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=offset)
    expected = int(np.prod(dims)) if dims else 0
    if data.size != expected:
        raise ValueError(f"{path}: {data.size} elements, header says {dims}")
    return data.reshape(dims)


def find_idx(directory, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", "."), stem.replace("-idx", ".") + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{directory}: no {stem}[.gz]")


def load_split(directory, prefix):
    images = read_idx(find_idx(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx(directory, f"{prefix}-labels-idx1-ubyte"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {prefix}: {images.shape[0]} images, "
                         f"{labels.shape[0]} labels")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # N,1,28,28
    y = torch.from_numpy(labels.astype(np.int64))
    return x.contiguous(), y


def conv_relu(cin, cout):
    return [nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1), nn.ReLU()]


class Residual(nn.Module):
    """y = block(x) + shortcut(x); shortcut a 1x1 conv (with bias) when the
    channel count changes, the identity otherwise."""

    def __init__(self, cin, cout, convs):
        super().__init__()
        layers = conv_relu(cin, cout)
        for _ in range(convs - 1):
            layers += conv_relu(cout, cout)
        self.block = nn.Sequential(*layers)
        self.shortcut = nn.Conv2d(cin, cout, kernel_size=1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


def build(network, block_convs):
    if network == "ex1_mlp":
        return nn.Sequential(nn.Flatten(),
                             nn.Linear(784, 128), nn.ReLU(),
                             nn.Linear(128, 64), nn.ReLU(),
                             nn.Linear(64, 10))
    if network == "ex2_cnn":
        return nn.Sequential(*conv_relu(1, 8), nn.MaxPool2d(2, 2),
                             *conv_relu(8, 16), nn.MaxPool2d(2, 2),
                             *conv_relu(16, 32),
                             nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    if network == "ex5_residual_deep":
        return nn.Sequential(Residual(1, 8, block_convs), nn.MaxPool2d(2, 2),
                             Residual(8, 16, block_convs), nn.MaxPool2d(2, 2),
                             Residual(16, 32, block_convs),
                             nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    raise ValueError(network)


def train_epoch(model, loss_fn, opt, x, y, batch, generator):
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch):
        idx = perm[start:start + batch]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()


def evaluate(model, x, y, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, x.shape[0], batch):
            logits = model(x[start:start + batch])
            correct += int((logits.argmax(1) == y[start:start + batch]).sum())
    return correct / x.shape[0]


def openblas_threads():
    """The thread count of the OpenBLAS that this process loaded, or None."""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            return int(ctypes.CDLL(name).openblas_get_num_threads())
        except (OSError, AttributeError):
            pass
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("network", choices=NETWORKS)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="folder of the four MNIST IDX files (default: data/mnist-idx)")
    p.add_argument("--block-convs", type=int, default=3,
                   help="conv+ReLU pairs per residual block of ex5_residual_deep (default 3)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="OpenBLAS threads (Debian's torch calls OpenBLAS for its GEMMs, "
                        "outside torch.set_num_threads; 1 = no oversubscription of the "
                        "cores, 0 = leave OPENBLAS_NUM_THREADS as it is; default 1)")
    p.add_argument("--limit", type=int, default=0,
                   help="train on only the first N images (smoke tests; 0 = all)")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.threads < 1 or args.batch < 1 or args.block_convs < 1:
        p.error("--epochs, --threads, --batch and --block-convs must be >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    if args.limit > 0:
        x_train, y_train = x_train[:args.limit].contiguous(), y_train[:args.limit].contiguous()

    model = build(args.network, args.block_convs)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)
    shuffle = torch.Generator().manual_seed(args.seed)

    startup_seconds = process_age()  # the first training batch starts now
    epoch_seconds = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        train_epoch(model, loss_fn, opt, x_train, y_train, args.batch, shuffle)
        epoch_seconds.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    acc = evaluate(model, x_test, y_test, args.batch)
    test_seconds = time.perf_counter() - t0

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {
        "tool": "pytorch",
        "network": args.network,
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "test_seconds": round(test_seconds, 3),
        "test_acc": round(acc, 4),
        "images_per_second": round(x_train.shape[0] / statistics.median(epoch_seconds), 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "threads": torch.get_num_threads(),
        "startup_seconds": None if startup_seconds is None else round(startup_seconds, 3),
        "blas_threads": openblas_threads(),
        "openblas_num_threads_env": OPENBLAS_ENV,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "torch_version": torch.__version__,
    }
    if args.network == "ex5_residual_deep":
        result["block_convs"] = args.block_convs
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
