#!/usr/bin/python3
"""Builds src/worker/reduce.onnx: the local worker's per-position reduction of
a causal LM's logits, run inside onnxruntime instead of in JavaScript.

Generic in the model: float32 logits [B, T, V] with B, T and V dynamic.

  inputs   logits  float32 [B, T, V]   (row t predicts token t + 1)
           targets int64   [B, T]      (the token each row scores; any valid id on padding rows)
           k       int64   [1]         (1 ≤ k ≤ V; the caller asks for max(k, 1) and slices)
  outputs  max           float32 [B, T]     m = max x
           sum_exp       float32 [B, T]     s = Σ exp(x − m)
           sum_exp_shift float32 [B, T]     u = Σ exp(x − m)(x − m)
           target_logit  float32 [B, T]     x[target]
           top_logits    float32 [B, T, k]  the k largest logits, largest first (ties: lower id first)
           top_ids       int64   [B, T, k]

The worker finishes in float64 (src/worker/reduce-onnx.ts), with the same
formulas as the JS reference (src/worker/reduce.ts):
  log Z = m + log s,  log p(target) = x[target] − log Z,  H = log s − u / s,
  top log-probs = top_logits − log Z.
Only the sums are float32; outputs are not rounded to float32 log-probs.

Every term of Σ e·d has the same sign (d ≤ 0), so the entropy has no
cancellation; exp never overflows (d ≤ 0). Needs only Debian's python3-onnx
(1.12): /usr/bin/python3 scripts/worker-reduce/build.py [--out FILE]
Byte-for-byte reproducible: no timestamps, constant producer fields.
"""
import argparse
import hashlib
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPSET = 13


def build():
    F, I = TensorProto.FLOAT, TensorProto.INT64
    const = lambda name, vals: helper.make_node(
        "Constant", [], [name], value=helper.make_tensor(name + "_value", I, [len(vals)], vals)
    )
    nodes = [
        const("last_axis", [-1]),
        helper.make_node("ReduceMax", ["logits"], ["m"], axes=[-1], keepdims=1),
        helper.make_node("Sub", ["logits", "m"], ["d"]),
        helper.make_node("Exp", ["d"], ["e"]),
        helper.make_node("ReduceSum", ["e", "last_axis"], ["s"], keepdims=0),
        helper.make_node("Mul", ["e", "d"], ["ed"]),
        helper.make_node("ReduceSum", ["ed", "last_axis"], ["sum_exp_shift"], keepdims=0),
        helper.make_node("Identity", ["s"], ["sum_exp"]),
        helper.make_node("Squeeze", ["m", "last_axis"], ["max"]),
        helper.make_node("Unsqueeze", ["targets", "last_axis"], ["targets_1"]),
        helper.make_node("GatherElements", ["logits", "targets_1"], ["x_target"], axis=-1),
        helper.make_node("Squeeze", ["x_target", "last_axis"], ["target_logit"]),
        helper.make_node("TopK", ["logits", "k"], ["top_logits", "top_ids"], axis=-1, largest=1, sorted=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cje_reduce",
        [
            helper.make_tensor_value_info("logits", F, ["B", "T", "V"]),
            helper.make_tensor_value_info("targets", I, ["B", "T"]),
            helper.make_tensor_value_info("k", I, [1]),
        ],
        [
            helper.make_tensor_value_info("max", F, ["B", "T"]),
            helper.make_tensor_value_info("sum_exp", F, ["B", "T"]),
            helper.make_tensor_value_info("sum_exp_shift", F, ["B", "T"]),
            helper.make_tensor_value_info("target_logit", F, ["B", "T"]),
            helper.make_tensor_value_info("top_logits", F, ["B", "T", "K"]),
            helper.make_tensor_value_info("top_ids", I, ["B", "T", "K"]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cje-inspector", producer_version="1")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "src", "worker", "reduce.onnx"))
    args = ap.parse_args()
    data = build().SerializeToString(deterministic=True)
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"{os.path.relpath(args.out, ROOT)}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
