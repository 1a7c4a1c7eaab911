"""How much word identity a pruned vectors table keeps: distinct rows, the
corpus word types that share a row, and some sentiment words' row-mates.

    python benchmarks/vectors_table.py assets/vectors_en_md --corpus ../shared/data/sst2/train.jsonl

en_core_web_md's table maps 684,830 keys to 20,000 rows: pruning (spaCy's
``prune_vectors``) points every other word at the row of its nearest kept
word, so words that share a row get the same vector, and a classifier that
reads only the vectors cannot tell them apart. ``StaticVectors`` looks rows
up by ORTH, as this script does.
"""
import argparse
import json
from pathlib import Path

import numpy
import spacy

WORDS = ["good", "bad", "great", "awful", "terrible", "horrible", "wonderful", "boring", "dull", "masterpiece"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vectors", type=Path, help="a pipeline directory with vectors (the output of scripts/fetch_vectors.py)")
    parser.add_argument("--corpus", type=Path, help="a JSONL file with a 'text' field, for word-type counts")
    parser.add_argument("--words", nargs="+", default=WORDS)
    args = parser.parse_args()
    nlp = spacy.load(args.vectors)
    vectors = nlp.vocab.vectors
    data = numpy.asarray(vectors.data)
    distinct = numpy.unique(data, axis=0).shape[0]
    print(f"table: {data.shape[0]:,} rows x {data.shape[1]} dims, {vectors.n_keys:,} keys, "
          f"{distinct:,} distinct rows")
    row_of = {}
    if args.corpus:
        with args.corpus.open(encoding="utf8") as f:
            for line in f:
                for token in nlp.make_doc(json.loads(line)["text"]):
                    row_of[token.orth_] = vectors.key2row.get(token.orth, -1)
        with_vector = {w: r for w, r in row_of.items() if r >= 0}
        by_row = {}
        for word, row in with_vector.items():
            by_row.setdefault(row, []).append(word)
        alone = sum(len(ws) for ws in by_row.values() if len(ws) == 1)
        print(f"{args.corpus}: {len(row_of):,} word types, {len(with_vector):,} with a vector, "
              f"{len(with_vector) - alone:,} of those share their row with another type of the corpus, "
              f"{len(by_row):,} distinct rows used")
    normed = data / numpy.maximum(numpy.linalg.norm(data, axis=1, keepdims=True), 1e-9)
    for word in args.words:
        row = vectors.key2row.get(nlp.vocab.strings.add(word), -1)
        if row < 0:
            print(f"{word}: no vector")
            continue
        same = numpy.flatnonzero((normed @ normed[row]) > 0.9999)
        mates = sorted(w for w, r in row_of.items() if r in set(same.tolist()) and w != word)[:8]
        print(f"{word}: row {row}, identical to {len(same) - 1} other row(s); corpus words with the same vector: "
              f"{', '.join(mates) if mates else '-'}")


if __name__ == "__main__":
    main()
