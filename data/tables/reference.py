#!/usr/bin/env python3
"""Reference baselines for the tables in data/tables/ (and the embedded churn CSV).

For every table and seeds 1..5: stratified split 70 % train / 15 % validation /
15 % test; numerics median-imputed + standardized, categoricals (every
non-numeric column) mode-imputed + one-hot encoded, all fitted on train only.
Methods:
  LR       LogisticRegression (lbfgs, L2), C picked on validation log-loss from
           {1e4, 1e3, 1e2, 10, 1}; sklearn minimises sum(loss) + ||w||^2/(2C),
           i.e. mean(loss) + (lam/2)||w||^2 with lam = 1/(C * n_train).
  HGB      HistGradientBoostingClassifier, defaults (100 iterations; sklearn's
           own early stopping is off below 10 000 rows).
  HGB-ES   same, max_iter=1000, number of iterations picked on validation
           log-loss (staged predictions, i.e. early stopping on the val split).
  MLP8     MLPClassifier(hidden_layer_sizes=(8,)), defaults except max_iter=1000.
  MLP8-ES  same net trained epoch by epoch (partial_fit, adam, batch 200);
           keeps the epoch with the best validation log-loss (patience 50,
           at most 1000 epochs).
Test ROC-AUC, log-loss and accuracy (threshold 0.5) are mean +- std (ddof=1)
over the seeds; "fit s" is wall-clock seconds for the fit including any
selection on validation (LR: all 5 fits), mean over seeds.

    pip install --quiet scikit-learn pandas
    python3 data/tables/reference.py [--tables a,b] [--seeds 1,2,3,4,5] [--json OUT]
"""
import argparse
import copy
import datetime
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
CHURN = "crates/dark-knowledge-data/assets/churn/mlc_churn.csv"
# name -> (csv path, target column, positive class)
TABLES = {
    "mlc_churn": (CHURN, "churn", "yes"),
    "credit_data": (os.path.join(HERE, "credit_data.csv"), "Status", "bad"),
    "attrition": (os.path.join(HERE, "attrition.csv"), "Attrition", "Yes"),
    "lending_club": (os.path.join(HERE, "lending_club.csv"), "Class", "bad"),
    "breast_cancer": (os.path.join(HERE, "breast_cancer.csv"), "diagnosis", "malignant"),
}
LR_GRID = [1e4, 1e3, 1e2, 10.0, 1.0]
METHODS = ["LR", "HGB", "HGB-ES", "MLP8", "MLP8-ES"]
EPS = 1e-15


def load(path, target, positive):
    df = pd.read_csv(path)
    y = (df[target].astype(str) == positive).astype(int).to_numpy()
    X = df.drop(columns=[target])
    num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    cat = [c for c in X.columns if c not in num]
    for c in cat:
        X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
    return X, y, num, cat


def split(X, y, seed):
    idx = np.arange(len(y))
    tr, rest = train_test_split(idx, test_size=0.30, stratify=y, random_state=seed)
    va, te = train_test_split(rest, test_size=0.50, stratify=y[rest], random_state=seed)
    return tr, va, te


def preprocessor(num, cat):
    parts = []
    if num:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"),
                                           StandardScaler()), num))
    if cat:
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore",
                                                         sparse_output=False)), cat))
    return ColumnTransformer(parts)


def ll(y, p):
    return log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])


def fit_lr(Xtr, ytr, Xva, yva, seed):
    best = None
    for C in LR_GRID:
        m = LogisticRegression(C=C, max_iter=10000).fit(Xtr, ytr)
        v = ll(yva, m.predict_proba(Xva)[:, 1])
        if best is None or v < best[0]:
            best = (v, C, m)
    return best[2], {"C": best[1], "lambda_mean_loss": 1.0 / (best[1] * len(ytr))}


def fit_hgb(Xtr, ytr, Xva, yva, seed):
    return HistGradientBoostingClassifier(random_state=seed).fit(Xtr, ytr), {}


class Staged:
    """Wraps a fitted HGB so predict_proba uses the first k iterations."""

    def __init__(self, m, k):
        self.m, self.k = m, k

    def predict_proba(self, X):
        for i, p in enumerate(self.m.staged_predict_proba(X), 1):
            if i == self.k:
                return p
        return p


def fit_hgb_es(Xtr, ytr, Xva, yva, seed):
    m = HistGradientBoostingClassifier(max_iter=1000, early_stopping=False,
                                       random_state=seed).fit(Xtr, ytr)
    losses = [ll(yva, p[:, 1]) for p in m.staged_predict_proba(Xva)]
    k = int(np.argmin(losses)) + 1
    return Staged(m, k), {"iterations": k}


def fit_mlp(Xtr, ytr, Xva, yva, seed):
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=1000,
                         random_state=seed).fit(Xtr, ytr), {}


def fit_mlp_es(Xtr, ytr, Xva, yva, seed, max_epochs=1000, patience=50):
    m = MLPClassifier(hidden_layer_sizes=(8,), random_state=seed)
    best, bad = None, 0
    for ep in range(1, max_epochs + 1):
        m.partial_fit(Xtr, ytr, classes=[0, 1])
        v = ll(yva, m.predict_proba(Xva)[:, 1])
        if best is None or v < best[0] - 1e-7:
            best, bad = (v, ep, copy.deepcopy(m)), 0
        else:
            bad += 1
            if bad >= patience:
                break
    return best[2], {"epochs": best[1]}


FITTERS = {"LR": fit_lr, "HGB": fit_hgb, "HGB-ES": fit_hgb_es,
           "MLP8": fit_mlp, "MLP8-ES": fit_mlp_es}


def run_table(name, seeds):
    path, target, positive = TABLES[name]
    X, y, num, cat = load(path, target, positive)
    info = {"path": path, "target": target, "positive": positive, "rows": int(len(y)),
            "numeric": len(num), "categorical": len(cat),
            "positive_rate": float(y.mean()), "runs": {m: [] for m in METHODS},
            "prior_test_log_loss": []}
    for seed in seeds:
        tr, va, te = split(X, y, seed)
        pre = preprocessor(num, cat).fit(X.iloc[tr])
        Xtr, Xva, Xte = (pre.transform(X.iloc[i]) for i in (tr, va, te))
        info["features_after_encoding"] = int(Xtr.shape[1])
        info["prior_test_log_loss"].append(ll(y[te], np.full(len(te), y[tr].mean())))
        for meth in METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                model, extra = FITTERS[meth](Xtr, y[tr], Xva, y[va], seed)
                dt = time.perf_counter() - t0
            p = model.predict_proba(Xte)[:, 1]
            info["runs"][meth].append(dict(seed=seed, auc=roc_auc_score(y[te], p),
                                           log_loss=ll(y[te], p),
                                           accuracy=accuracy_score(y[te], p >= 0.5),
                                           fit_seconds=dt, **extra))
    info["summary"] = {}
    for meth in METHODS:
        runs = info["runs"][meth]
        info["summary"][meth] = {
            k: {"mean": float(np.mean([r[k] for r in runs])),
                "std": float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0}
            for k in ("auc", "log_loss", "accuracy", "fit_seconds")}
    return info


def markdown(results):
    out = ["| table | rows | pos. rate | features | method | test ROC-AUC | test log-loss | test accuracy | fit s |",
           "|---|---:|---:|---:|---|---|---|---|---:|"]
    for name, info in results.items():
        first = True
        for meth in METHODS:
            s = info["summary"][meth]
            head = ("%s | %d | %.3f | %d+%d→%d" % (name, info["rows"], info["positive_rate"],
                                                     info["numeric"], info["categorical"],
                                                     info["features_after_encoding"])
                    if first else " | | | ")
            out.append("| %s | %s | %.4f ± %.4f | %.4f ± %.4f | %.4f ± %.4f | %.2f |" % (
                head, meth, s["auc"]["mean"], s["auc"]["std"], s["log_loss"]["mean"],
                s["log_loss"]["std"], s["accuracy"]["mean"], s["accuracy"]["std"],
                s["fit_seconds"]["mean"]))
            first = False
        out.append("| | | | | prior (train rate) | 0.5 | %.4f | | |" %
                   np.mean(info["prior_test_log_loss"]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--churn", default=CHURN, help="path of the embedded churn CSV")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    TABLES["mlc_churn"] = (args.churn,) + TABLES["mlc_churn"][1:]
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for name in args.tables.split(","):
        t0 = time.perf_counter()
        results[name] = run_table(name, seeds)
        print("# %s done in %.1f s" % (name, time.perf_counter() - t0), file=sys.stderr)
    print(markdown(results))
    if args.json:
        meta = {"command": " ".join(sys.argv), "seeds": seeds,
                "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "cpus": os.cpu_count(), "python": platform.python_version(),
                "sklearn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "tables": results}, f, indent=1)


if __name__ == "__main__":
    main()
