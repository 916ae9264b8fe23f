"""Benchmark of the text feature groups on real emotion data (issue #3).

Chinese: CLUE Weibo emotion test set (7 classes = the DUTIR major classes), 5-fold stratified
cross-validated logistic regression on standardised features. English: TweetEval emotion,
train -> val. Word2Vec is fitted (unsupervised) on the posts of the evaluated split only.
Also measures extraction throughput on 2 worker processes.

    python benchmarks/text_emotion.py [--data ../shared/data] [--quick]

Prints a table and writes benchmarks/results/text_emotion.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amae.features.text import TextBatchExtractor, TextFeatureConfig, fit_text_model

ROOT = Path(__file__).resolve().parents[1]


def classifier(seed: int = 0):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1, random_state=seed))


def scores(y_true, y_pred) -> dict:
    return {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4)}  # fmt: skip


def extract(texts: list, model_dir: Path, cfg: TextFeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    res = TextBatchExtractor(model_dir, cfg)(pd.DataFrame({"text": texts}))
    return res.blocks["text_h"], res.blocks["text_d"]


def _timed_worker(args):
    extractor, chunk = args
    extractor(pd.DataFrame({"text": chunk[:2]}))  # load lexicons / jieba / vectors (not timed)
    t0 = time.perf_counter()
    extractor(pd.DataFrame({"text": chunk}))
    return time.perf_counter() - t0


def throughput(texts: list, extractor: TextBatchExtractor, workers: int = 2) -> float:
    """Posts per second with `workers` processes, each featurising its share of the posts in
    one batch (cold token cache: every process starts empty). Process start and lexicon/jieba/vector
    loading (once per worker, ~1-2 s) are not timed."""
    chunks = [texts[i::workers] for i in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        # both workers run at once; the slower one bounds the wall time
        seconds = pool.map(_timed_worker, [(extractor, c) for c in chunks])
    return len(texts) / max(seconds)


def run_zh(data: Path, dutir: Path, quick: bool, tmp: Path) -> dict:
    rows = [json.loads(line) for line in (data / "emotion_zh_clue" / "test.txt").open(encoding="utf-8")]
    texts = [r["content"] for r in rows]
    y = np.array([r["label"] for r in rows])
    cfg = TextFeatureConfig(dutir_path=str(dutir), w2v_epochs=5 if not quick else 2, workers=1)
    t0 = time.perf_counter()
    model = fit_text_model(texts, cfg)
    fit_s = time.perf_counter() - t0
    model.save(tmp / "zh")
    xh, xd = extract(texts, tmp / "zh", cfg)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    out = {"n_posts": len(texts), "w2v_fit_s": round(fit_s, 1), "vocab": len(model.vocab)}
    for name, x in (("text_h", xh), ("text_d", xd), ("text_h+text_d", np.hstack([xh, xd]))):
        out[name] = scores(y, cross_val_predict(classifier(), x, y, cv=cv, n_jobs=2))
    out["majority_accuracy"] = round(float(pd.Series(y).value_counts(normalize=True).iloc[0]), 4)
    out["throughput_posts_per_s_2cores"] = {
        "text_h": round(throughput(texts, TextBatchExtractor(None, cfg)), 0),
        "text_h+text_d": round(throughput(texts, TextBatchExtractor(tmp / "zh", cfg)), 0),
    }
    return out


def run_en(data: Path, quick: bool, tmp: Path) -> dict:
    base = data / "tweeteval" / "emotion"

    def read(split):
        texts = (base / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = np.array((base / f"{split}_labels.txt").read_text().split(), dtype=int)
        return texts, labels

    tr_x, tr_y = read("train")
    va_x, va_y = read("val")
    cfg = TextFeatureConfig(w2v_epochs=5 if not quick else 2, workers=1)
    model = fit_text_model(tr_x, cfg)
    model.save(tmp / "en")
    htr, dtr = extract(tr_x, tmp / "en", cfg)
    hva, dva = extract(va_x, tmp / "en", cfg)
    out = {"n_train": len(tr_x), "n_val": len(va_x), "vocab": len(model.vocab)}
    for name, a, b in (("text_h", htr, hva), ("text_d", dtr, dva),
                       ("text_h+text_d", np.hstack([htr, dtr]), np.hstack([hva, dva]))):  # fmt: skip
        clf = classifier().fit(a, tr_y)
        out[name] = scores(va_y, clf.predict(b))
    out["throughput_posts_per_s_2cores"] = {
        "text_h": round(throughput(tr_x, TextBatchExtractor(None, cfg)), 0),
        "text_h+text_d": round(throughput(tr_x, TextBatchExtractor(tmp / "en", cfg)), 0),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("AMAE_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--quick", action="store_true", help="fewer Word2Vec epochs")
    args = ap.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "zh_clue_emotion_5fold_cv": run_zh(
                data, data / "dutir" / "dutir_emotion_ontology.csv", args.quick, Path(tmp)
            ),  # fmt: skip
            "en_tweeteval_emotion_train_to_val": run_en(data, args.quick, Path(tmp)),
        }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    out = ROOT / "benchmarks" / "results" / "text_emotion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
