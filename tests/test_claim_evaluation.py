"""Claim-level evaluation: AUROC / PRR over labelled claims, response level after
aggregation, cluster-bootstrap intervals. Values by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.evaluation.claims import claim_level_metrics, cluster_bootstrap
from lmuq.evaluation.metrics import auroc, prr

DATA = [
    [{"s": 0.9}, {"s": 0.2}],
    [{"s": 0.8}, {"s": 0.1}],
    [{"s": 0.85}, {"s": 0.7}],
]
LABELS = [[True, False], [True, None], [False, True]]


def test_claim_and_response_level_by_hand():
    ev = claim_level_metrics(DATA, LABELS, "s", n_boot=200)
    # labelled: right {0.9, 0.8, 0.7}, wrong {0.2, 0.85}: of 6 (right, wrong) pairs the
    # right one is higher in 4 (0.8 < 0.85 and 0.7 < 0.85 are not)
    assert ev.claims == 5 and ev.claim_accuracy == pytest.approx(3 / 5)
    assert ev.claim_auroc.estimate == pytest.approx(4 / 6)
    conf = np.array([0.9, 0.2, 0.8, 0.85, 0.7])
    right = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    assert ev.claim_prr.estimate == pytest.approx(prr(conf, right))
    # responses: mean scores 0.55 (has a wrong claim), 0.45 (all labelled right),
    # 0.775 (has a wrong claim): the one all-right response scores lowest -> AUROC 0
    assert ev.responses == 3
    assert ev.response_auroc.estimate == pytest.approx(0.0)
    assert ev.claim_auroc.low <= ev.claim_auroc.estimate <= ev.claim_auroc.high


def test_given_response_scores_and_unverifiable_rows_are_left_out():
    ev = claim_level_metrics(
        [*DATA, [{"s": 0.5}]], [*LABELS, [None]], "s", response_scores=[0.2, 0.9, 0.1, 0.5]
    )
    # response 4 has no labelled claim; all-right response 2 now scores highest -> AUROC 1
    assert ev.responses == 3 and ev.response_auroc.estimate == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 claims but 1 labels"):
        claim_level_metrics(DATA, [[True], [True, None], [False, True]], "s")


def test_cluster_bootstrap_of_identical_clusters_is_a_point():
    clusters = [np.array([0.9, 0.1])] * 4
    labels = [np.array([1.0, 0.0])] * 4
    iv = cluster_bootstrap(auroc, clusters, labels, n_boot=100)
    assert (iv.estimate, iv.low, iv.high) == (1.0, 1.0, 1.0)
    one_class = cluster_bootstrap(auroc, [np.array([0.5])], [np.array([1.0])], n_boot=10)
    assert math.isnan(one_class.estimate) and math.isnan(one_class.low)
