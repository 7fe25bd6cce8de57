#!/usr/bin/env python3
"""Regenerate the CSVs in data/tables/ from packages installed on this machine.

Sources (nothing is downloaded at run time):
  * Debian package r-cran-modeldata 1.1.0-1 (MIT): credit_data, attrition,
    lending_club (and mlc_churn, only to check the embedded churn CSV).
    Only the package's files are needed, not R itself: the lazy-load database
    data/Rdata.rdb/.rdx is decoded with the pure-Python `rdata` package.
        apt-get download r-cran-modeldata=1.1.0-1
        dpkg -x r-cran-modeldata_1.1.0-1_all.deb /tmp/modeldata-deb
  * PyPI scikit-learn (BSD-3-Clause): sklearn/datasets/data/breast_cancer.csv,
    read with sklearn.datasets.load_breast_cancer (a bundled file, no network).

Usage:
    pip install --quiet rdata pandas scikit-learn
    python3 data/tables/extract.py \
        --modeldata /tmp/modeldata-deb/usr/lib/R/site-library/modeldata \
        [--check-churn crates/dark-knowledge-data/assets/churn/mlc_churn.csv] [--out data/tables]
"""
import argparse
import bz2
import gzip
import lzma
import os
import struct
import sys
import warnings
import zlib

import pandas as pd

# name in modeldata -> (output file stem, target column)
MODELDATA_TABLES = {
    "credit_data": "Status",
    "attrition": "Attrition",
    "lending_club": "Class",
}


def _unpack_rdb_entry(blob):
    """One entry of an R lazy-load database: 4-byte big-endian uncompressed
    length, then (compress=2/3) a type byte and the payload, or (compress=TRUE)
    a zlib stream. 'Z' is R's raw LZMA2 stream (xz preset 9e)."""
    n = struct.unpack(">I", blob[:4])[0]
    kind, body = blob[4:5], blob[5:]
    if kind == b"Z":
        out = lzma.decompress(body, format=lzma.FORMAT_RAW,
                              filters=[{"id": lzma.FILTER_LZMA2,
                                        "preset": 9 | lzma.PRESET_EXTREME}])
    elif kind == b"2":
        out = bz2.decompress(body)
    elif kind == b"1":
        out = zlib.decompress(body)
    elif kind == b"0":
        out = body
    else:  # compress = TRUE: plain zlib right after the length
        out = zlib.decompress(blob[4:])
    if len(out) != n:
        raise ValueError("rdb entry: expected %d bytes, got %d" % (n, len(out)))
    return out


class LazyLoadDB:
    def __init__(self, base):
        import rdata
        self._rdata = rdata
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idx = rdata.conversion.convert(rdata.parser.parse_data(
                gzip.decompress(open(base + ".rdx", "rb").read())))
        self.variables = {k: [int(v) for v in off] for k, off in idx["variables"].items()}
        self.db = open(base + ".rdb", "rb").read()

    def get(self, name):
        off, ln = self.variables[name]
        raw = _unpack_rdb_entry(self.db[off:off + ln])
        with warnings.catch_warnings():  # "tbl_df" -> plain data.frame
            warnings.simplefilter("ignore")
            df = self._rdata.conversion.convert(self._rdata.parser.parse_data(raw))
        df = pd.DataFrame(df).reset_index(drop=True)
        for c in df.columns:  # R factors -> text labels
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                df[c] = df[c].astype(object).where(df[c].notna(), None)
        return df


def write_csv(df, path):
    # NA -> empty field; R integers stay integers (nullable Int32).
    df.to_csv(path, index=False, lineterminator="\n")
    print("wrote %-40s %5d rows x %2d cols  %4d KB"
          % (path, len(df), df.shape[1], os.path.getsize(path) // 1024))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modeldata", default="/usr/lib/R/site-library/modeldata",
                    help="installed or dpkg -x'd modeldata R package directory")
    ap.add_argument("--out", default=here)
    ap.add_argument("--check-churn", metavar="CSV",
                    help="also check that this CSV equals modeldata::mlc_churn")
    args = ap.parse_args()

    db = LazyLoadDB(os.path.join(args.modeldata, "data", "Rdata"))
    for name in MODELDATA_TABLES:
        write_csv(db.get(name), os.path.join(args.out, name + ".csv"))

    from sklearn.datasets import load_breast_cancer
    bc = load_breast_cancer(as_frame=True)  # reads sklearn/datasets/data/breast_cancer.csv
    df = bc.data.copy()
    df["diagnosis"] = [bc.target_names[t] for t in bc.target]  # 0 malignant, 1 benign
    write_csv(df, os.path.join(args.out, "breast_cancer.csv"))

    if args.check_churn:
        ref = db.get("mlc_churn").astype(str)
        emb = pd.read_csv(args.check_churn).astype(str)
        same = (list(ref.columns) == list(emb.columns) and ref.shape == emb.shape
                and (ref.values == emb.values).all())
        print("%s %s modeldata::mlc_churn" % (args.check_churn,
                                               "equals" if same else "DIFFERS FROM"))
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
