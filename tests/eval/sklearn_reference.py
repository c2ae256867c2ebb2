#!/usr/bin/env python3
"""scikit-learn's IsolationForest on the very events `vigil eval --export DIR` replayed, with
the same warm-up/scoring split, printed beside Vigil's results as one Markdown table.

    python3 tests/eval/sklearn_reference.py --sets DIR --vigil vigil.json

Protocols (the reference implementations the issue names):
  csic, scanners  13 request features (below); fit on the warm-up events (normal traffic only),
                  score the rest; flagged = IsolationForest.predict (contamination="auto").
  hdfs            loglizer's IsolationForest demo: raw event-count matrix, fit on the first
                  half of each label (anomalies included, unsupervised), contamination=0.03,
                  n_estimators=100; flagged = predict on the other half.
  bgl             64 hashed counts of the line's words with digits masked; fit on every line,
                  score every line (the most favourable protocol for the reference).
Scores for ROC-AUC are -score_samples (the paper's s in (0, 1]). random_state=0 throughout.
"""

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.metrics import roc_auc_score

SPECIAL = set("'\"<>;()[]{}|\\`$*!^~@")


def request_features(e):
    """13 features of a request line: the usual hand-made set for CSIC 2010."""
    url = e["url"]
    path, _, query = url.partition("?")
    params = [p for p in query.split("&") if p]
    values = [p.partition("=")[2] for p in params]
    return [
        {"GET": 0, "POST": 1}.get(e["method"], 2),
        len(url),
        len(path),
        len(query),
        len(params),
        len([s for s in path.split("/") if s]),
        sum(c.isdigit() for c in query),
        sum(c.isalpha() for c in query),
        sum(not (c.isalnum() or c in "/.-_") for c in url),
        max((len(v) for v in values), default=0),
        sum(c in SPECIAL for c in url),
        sum(ord(c) > 127 for c in url),
        sum(not (c.isalnum() or c in "/.-_") for c in url) / max(len(url), 1),
    ]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def metrics(name, scores, flagged, labels, seconds):
    labels = np.asarray(labels, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    tp = int((flagged & labels).sum())
    fp = int((flagged & ~labels).sum())
    fn = int((~flagged & labels).sum())
    tn = int((~flagged & ~labels).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    tps = np.cumsum(sorted_labels)
    last = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    best = float((2 * tps / (np.arange(1, len(scores) + 1) + labels.sum()))[last].max())
    return {
        (name, "roc_auc"): roc_auc_score(labels, scores),
        (name, "precision"): p,
        (name, "recall"): r,
        (name, "f1"): f1,
        (name, "false_positive_rate"): fp / (fp + tn) if fp + tn else 0.0,
        (name, "best_f1"): best,
        (name, "events_per_s"): len(scores) / seconds,
    }


def fit_score(train, test, **kw):
    forest = IsolationForest(n_estimators=100, random_state=0, **kw).fit(train)
    started = time.perf_counter()
    scores = -forest.score_samples(test)
    flagged = forest.predict(test) == -1
    return scores, flagged, time.perf_counter() - started


def access(name, events):
    x = np.array([request_features(e) for e in events], dtype=float)
    warm = np.array([e["warmup"] for e in events])
    scores, flagged, seconds = fit_score(x[warm], x[~warm])
    test = [e for e in events if not e["warmup"]]
    out = metrics(name, scores, flagged, [e["label"] for e in test], seconds)
    if name == "scanners":
        seen, first, normal_ips, flagged_ips = {}, {}, set(), set()
        for e, f in zip(test, flagged):
            s = e["session"]
            if s is None:
                normal_ips.add(e["ip"])
                if f:
                    flagged_ips.add(e["ip"])
                continue
            seen[s] = seen.get(s, 0) + 1
            if f and s not in first:
                first[s] = seen[s]
        firsts = sorted(first.get(s, 10**9) for s in seen)
        median = firsts[len(firsts) // 2]
        out[(name, "sessions")] = len(seen)
        out[(name, "sessions_flagged_within_100")] = sum(n <= 100 for n in first.values()) / len(seen)
        out[(name, "median_requests_to_first_flag")] = None if median == 10**9 else median
        out[(name, "normal_ips_flagged")] = len(flagged_ips) / max(len(normal_ips), 1)
    return out


def hdfs(events):
    ids = sorted({k for e in events if e["warmup"] for k in e["fields"]}, key=lambda k: int(k[1:]))
    x = np.array([[e["fields"].get(k, 0) for k in ids] for e in events], dtype=float)
    warm = np.array([e["warmup"] for e in events])
    scores, flagged, seconds = fit_score(x[warm], x[~warm], contamination=0.03, max_features=1.0)
    return metrics("hdfs", scores, flagged, [e["label"] for e in events if not e["warmup"]], seconds)


def bgl(events):
    masked = [re.sub(r"\d+", "0", e["raw"].split(" ", 4)[-1]) for e in events]
    x = HashingVectorizer(n_features=64, alternate_sign=False, norm=None).transform(masked).toarray()
    scores, flagged, seconds = fit_score(x, x)
    return metrics("bgl", scores, flagged, [e["label"] for e in events], seconds)


def fmt(metric, v):
    if v is None:
        return "n/a"
    if metric in ("events_per_s", "sessions") or metric.startswith("median"):
        return f"{v:.0f}"
    return f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", required=True, type=Path, help="folder written by `vigil eval --export`")
    ap.add_argument("--vigil", type=Path, help="results written by `vigil eval --json`")
    args = ap.parse_args()
    ref = {}
    for name in ("csic", "scanners", "hdfs", "bgl"):
        path = args.sets / f"{name}.jsonl"
        if not path.exists():
            continue
        events = load(path)
        ref.update(hdfs(events) if name == "hdfs" else bgl(events) if name == "bgl" else access(name, events))
    rows = list(ref)
    vigil = {}
    if args.vigil:
        for result in json.loads(args.vigil.read_text()):
            for m in result["metrics"]:
                key = (m["dataset"], m["metric"])
                vigil[key] = m["value"]
                if key not in ref:
                    rows.append(key)
    print("| data set | metric | Vigil | scikit-learn |\n| --- | --- | --- | --- |")
    for key in sorted(rows, key=lambda k: (("csic", "scanners", "hdfs", "bgl").index(k[0]), rows.index(k))):
        print(f"| {key[0]} | {key[1]} | {fmt(key[1], vigil.get(key))} | {fmt(key[1], ref.get(key))} |")


if __name__ == "__main__":
    main()
