#!/usr/bin/python3
"""PyTorch side of `metaanchor bench`: training-step time of the layer lists the TS side exports.

Reads one JSON object on stdin:
  {"threads": 2, "warmup": 2, "steps": 10,
   "cases": [{"name": ..., "arch": <lib/bench/arch.ts ArchSpec>, "batch": 4, "sizePx": 160,
              "positiveEvery": 50, "seed": 0}]}
and prints one JSON object on stdout:
  {"available": true, "torch": "1.13.1", "threads": 2,
   "cases": [{"name", "params", "anchorsPerImage", "stepMs": [...], "medianMs", "minMs", "loss"}]}
If torch cannot be imported it prints {"available": false, "error": ...} and exits with status 3.

A step is what the TS side times (lib/bench/train-step.ts): forward, sigmoid focal loss
(alpha 0.25, gamma 2) over non-ignored anchors + smooth-L1 (beta 0.1) over positives, both divided
by max(1, #positives) (lib/model/losses.ts), backward, one Adam update. Layers interpret the same
list as lib/bench/arch.ts archForward; activations are NCHW here, NHWC in tfjs. Labels follow the
same deterministic rule as lib/bench/train-step.ts syntheticLabels.

Run with Debian's interpreter and package: /usr/bin/python3, `apt-get install python3-torch`.
"""
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as err:  # the TS side turns this into an install hint
    print(json.dumps({"available": False, "error": str(err)}))
    sys.exit(3)


class ArchNet(torch.nn.Module):
    """The ops of an ArchSpec in order, parameters named as in the list."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.params = {}
        self.weights = torch.nn.ParameterDict()
        for p in spec["params"]:
            key = p["name"].replace(".", "_")
            self.params[p["name"]] = p
            if p["kind"] == "conv":
                k, cin, cout = p["kernel"], p["inChannels"], p["outChannels"]
                w = torch.randn(cout, cin, k, k) * (2.0 / (k * k * cin)) ** 0.5
                self.weights[key + "__w"] = torch.nn.Parameter(w)
                if p["bias"]:
                    self.weights[key + "__b"] = torch.nn.Parameter(torch.zeros(cout))
            else:
                self.weights[key + "__w"] = torch.nn.Parameter(torch.ones(p["channels"]))
                self.weights[key + "__b"] = torch.nn.Parameter(torch.zeros(p["channels"]))

    def _w(self, name, part):
        key = name.replace(".", "_") + "__" + part
        return self.weights[key] if key in self.weights else None

    def forward(self, images):
        acts = {"input": images}
        for op in self.spec["ops"]:
            kind = op["op"]
            if kind == "normalize":
                mean = torch.tensor(op["meanRGB"]).view(1, 3, 1, 1)
                std = torch.tensor(op["stdRGB"]).view(1, 3, 1, 1)
                y = (acts[op["input"]] - mean) / std
            elif kind == "conv":
                p = self.params[op["param"]]
                # 'same' with odd kernels: k // 2 on each side gives TF's output size at stride 1
                # and 2 (ceil(n / s)); TF puts an odd extra pad row at the bottom, same work.
                pad = p["kernel"] // 2 if op["pad"] == "same" else op["pad"]
                y = F.conv2d(acts[op["input"]], self._w(p["name"], "w"), self._w(p["name"], "b"), op["stride"], pad)
                if op["relu"]:
                    y = F.relu(y)
            elif kind == "gn":
                p = self.params[op["param"]]
                y = F.group_norm(acts[op["input"]], p["groups"], self._w(p["name"], "w"), self._w(p["name"], "b"), 1e-5)
                if op["relu"]:
                    y = F.relu(y)
            elif kind == "relu":
                y = F.relu(acts[op["input"]])
            elif kind == "add":
                y = acts[op["inputs"][0]] + acts[op["inputs"][1]]
                if op["relu"]:
                    y = F.relu(y)
            elif kind == "maxpool":
                y = F.max_pool2d(acts[op["input"]], op["kernel"], op["stride"], op["pad"])
            elif kind == "upsample2x":
                like = acts[op["like"]]
                y = F.interpolate(acts[op["input"]], scale_factor=2, mode="nearest")[:, :, : like.shape[2], : like.shape[3]]
            else:
                raise ValueError("unknown op " + kind)
            acts[op["output"]] = y
        a = self.spec["anchorsPerCell"]

        def flat(names, width):
            # [N, A*W, H, W] -> [N, H, W, A*W] -> [N, H*W*A, W]: the tfjs anchor order.
            return torch.cat([acts[o].permute(0, 2, 3, 1).reshape(images.shape[0], -1, width) for o in names], 1)

        return flat(self.spec["clsOutputs"], self.spec["numClasses"]), flat(self.spec["boxOutputs"], 4)


def synthetic_labels(n, anchors, k, every):
    """Same rule as lib/bench/train-step.ts syntheticLabels."""
    i = torch.arange(n * anchors)
    labels = torch.full((n * anchors,), -1, dtype=torch.long)
    labels[i % every == every // 2] = -2
    pos = i % every == 0
    labels[pos] = (i[pos] // every) % k
    return labels.view(n, anchors)


def detection_loss(cls, box, labels, targets):
    k = cls.shape[-1]
    valid = (labels != -2).unsqueeze(-1).float()
    pos = (labels >= 0).unsqueeze(-1).float()
    t = F.one_hot(labels.clamp(min=-1) + 1, k + 1)[..., 1:].float()
    ce = F.binary_cross_entropy_with_logits(cls, t, reduction="none")
    p = torch.sigmoid(cls)
    one_minus_pt = p + t - 2 * p * t
    focal = ce * one_minus_pt ** 2 * (0.75 - 0.5 * t)  # alpha_t = 0.25 t + 0.75 (1 - t)
    box_loss = F.smooth_l1_loss(box, targets, reduction="none", beta=0.1) * pos
    norm = pos.sum().clamp(min=1)
    return ((focal * valid).sum() + box_loss.sum()) / norm


def run_case(case, warmup, steps):
    torch.manual_seed(case.get("seed", 0))
    spec = case["arch"]
    net = ArchNet(spec)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n, s = case["batch"], case["sizePx"]
    images = torch.rand(n, 3, s, s) * 255
    with torch.no_grad():
        cls, _ = net(images)
    anchors = cls.shape[1]
    labels = synthetic_labels(n, anchors, spec["numClasses"], case["positiveEvery"])
    targets = torch.randn(n, anchors, 4) * 0.5
    times = []
    loss_value = float("nan")
    for it in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        cls, box = net(images)
        loss = detection_loss(cls, box, labels, targets)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        if it >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "name": case["name"],
        "params": params,
        "anchorsPerImage": anchors,
        "stepMs": times,
        "medianMs": statistics.median(times),
        "minMs": min(times),
        "loss": loss_value,
    }


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(int(req.get("threads", 2)))
    out = {"available": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "cases": []}
    for case in req["cases"]:
        sys.stderr.write("torch: %s b%d@%d\n" % (case["name"], case["batch"], case["sizePx"]))
        sys.stderr.flush()
        out["cases"].append(run_case(case, int(req.get("warmup", 2)), int(req.get("steps", 10))))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
