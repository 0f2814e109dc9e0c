"""The libraries a user would pick instead, timed on the shapes of `cargo xtask bench`.

Run by `cargo xtask bench --peers` inside its cached virtual environment; reads the cases as
JSON from argv[1] and prints one JSON object per measurement on stdout:

- PyTorch dense (nn.Linear, MKL on x86);
- SparseProp 0.1.14 (static sparse, C++ kernels; Nikdan et al. 2023);
- SparseLab 0.2.2 (PyTorch-native SET with its own sparse layers);
- torch.matmul's GEMM rate on each kernel shape (`batch x n` by `n x n`).

Every network trains as ours does: ReLU and dropout 0.1 between layers, the output layer dense,
cross-entropy, SGD 0.01 with momentum 0.9. The peers without topology updates have their
epoch extrapolated from timed batches after a warm-up (a full epoch of the dense peers would
take minutes); SparseLab's SET, which drops and regrows once per epoch as ours does, is timed
over a whole epoch's batches, its update included (one update took 2.3 s on
784-4000-4000-4000-10 at 1%, against 38 ms a batch, so leaving it out would time another
algorithm). The same rows for every peer.
"""
import json
import math
import sys
import time

import torch


def mlp(dims, make):
    layers = []
    for i in range(len(dims) - 1):
        layers.append(make(i, dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
    return torch.nn.Sequential(*layers)


def torch_dense(dims, density, steps_per_epoch):
    return mlp(dims, lambda i, a, b: torch.nn.Linear(a, b)), None


def sparseprop_static(dims, density, steps_per_epoch):
    from sparseprop.modules import SparseLinear

    def make(i, a, b):
        layer = torch.nn.Linear(a, b)
        if i == len(dims) - 2:
            return layer
        with torch.no_grad():
            layer.weight.mul_((torch.rand_like(layer.weight) < density).float())
        return SparseLinear.from_dense(layer)

    return mlp(dims, make), None


def sparselab_set(dims, density, steps_per_epoch):
    import sparselab

    def make(i, a, b):
        if i == len(dims) - 2:
            return torch.nn.Linear(a, b)
        return sparselab.SparseLinear(a, b, sparsity=1 - density)

    net = mlp(dims, make)
    # Its SET as ours: drop and regrow 30% (our bench's zeta) of each layer once per epoch.
    algo = sparselab.SET(sparsity=1 - density, drop_fraction=0.3,
                         update_freq=steps_per_epoch, seed=0)
    net.apply(algo)
    return net, algo


PEERS = {
    "torch-dense": torch_dense,
    "sparseprop-static": sparseprop_static,
    "sparselab-set": sparselab_set,
}


def epoch_seconds(net, algo, dims, rows, batch, timed):
    n = min(rows, 4096)
    x = torch.randn(n, dims[0])
    y = torch.randint(0, dims[-1], (n,))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    loss = torch.nn.CrossEntropyLoss()

    def steps(k):
        for _ in range(k):
            idx = torch.randint(0, n, (batch,))
            opt.zero_grad()
            loss(net(x[idx]), y[idx]).backward()
            opt.step()
            if algo is not None:
                algo.step()

    per_epoch = math.ceil(rows / batch)
    # With topology updates, a whole epoch: its batches cover exactly one update.
    timed = per_epoch if algo is not None else timed
    steps(3)
    start = time.perf_counter()
    steps(timed)
    seconds = time.perf_counter() - start
    return seconds / timed * per_epoch


def gemm_gflops(batch, n, budget=0.5):
    a = torch.randn(batch, n)
    b = torch.randn(n, n)
    torch.matmul(a, b)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget:
        torch.matmul(a, b)
        reps += 1
    seconds = (time.perf_counter() - start) / reps
    return 2.0 * batch * n * n / seconds / 1e9


def main():
    spec = json.loads(sys.argv[1])
    torch.manual_seed(0)
    info = {"kind": "info", "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(info), flush=True)
    for case in spec["epochs"]:
        dims, rows, batch, density = case["dims"], case["rows"], case["batch"], case["density"]
        for peer in case["peers"]:
            out = {"kind": "epoch", "network": "-".join(map(str, dims)), "peer": peer,
                   "density": density,
                   "batch": batch, "rows": rows}
            try:
                net, algo = PEERS[peer](dims, density, math.ceil(rows / batch))
                out["epoch_seconds"] = epoch_seconds(net, algo, dims, rows, batch, spec["timed"])
            except Exception as e:  # a peer that fails is reported, not fatal
                out["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(out), flush=True)
    for batch, n in spec["gemm"]:
        out = {"kind": "gemm", "batch": batch, "n": n, "gflops": gemm_gflops(batch, n)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
