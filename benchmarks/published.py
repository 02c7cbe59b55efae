"""Published figures the benchmarks quote beside their own, typed once, with their sources.

Quoted for scale, never re-run: each entry says what protocol and compute it comes from.

>>> from benchmarks.published import SINUSOID_MSE
>>> SINUSOID_MSE["maml"][5]
1.13
"""

SINUSOID_MSE = {"maml": {5: 1.13, 10: 0.77}, "meta_sgd": {5: 0.90, 10: 0.53}}
"""Sinusoid regression test MSE by shots (MAML: Finn et al., 2017; Meta-SGD: Li et al.,
2017), both after 70,000 meta-updates of 25 tasks, with the algorithm's own inner loop."""

SINUSOID_AUTHORS = {"maml": "MAML", "meta_sgd": "Meta-SGD"}
"""Who published each `SINUSOID_MSE` entry, as the notes name it."""

OMNIGLOT_ACCURACY = {
    "protonet": {(5, 1): 0.988, (5, 5): 0.997, (20, 1): 0.960, (20, 5): 0.989},
    "matching": {(5, 1): 0.981, (5, 5): 0.989, (20, 1): 0.938, (20, 5): 0.985},
    "memory": {(5, 1): 0.984, (5, 5): 0.996, (20, 1): 0.950, (20, 5): 0.986},
}
"""Omniglot accuracies by (ways, shots) (Snell et al. 2017, Table 1; Matching Networks
with cosine distance as reported there; the memory module from Kaiser et al. 2017, Table 1):
character-disjoint splits of the full background set
(1,200 training characters x 4 rotations), trained for hours on a GPU. Quoted for scale, not
re-run: our splits are alphabet-disjoint over the small sets, trained for minutes on a CPU."""
