"""A text-embedding module with real per-row cost: word tokens through a small MLP.

    python examples/hashed_text.py OUT_DIR [--hidden 512 --layers 3 --dim 64] [--vocab 1000000]

It follows the TF Hub text-embedding API ("common SavedModel APIs"): the "default" signature and
`__call__` take a batch of sentences, string[?], and give float32[?, dim]. Inside: lower-case, split on
whitespace, map each token to a row of an embedding table, average the rows of a sentence (an empty
sentence gives zeros), then `layers` ReLU layers of width `hidden` and a linear map to `dim`.

Tokens map to rows in one of two ways:
- vocab=0 (the default): each token is hashed into `buckets` rows; the module is small and loads fast.
- vocab=V: like the NNLM text modules on TF Hub, a vocabulary file of V tokens is an asset of the
  module (assets/tokens.txt, read into a lookup table when the module loads) and tokens outside it
  are hashed into `buckets` extra rows; the table has V + buckets rows of `embedding` floats. With V
  near a million (NNLM's vocabulary has ~970,000 tokens) the module weighs ~0.5 GB and takes about a
  second to load, as such modules do.

A second signature, "compare" (left, right: string[?]) -> {"similarity": float32[?], "left": float32[?, dim]},
is a module with dict inputs and dict outputs. Weights are random with a fixed seed, so every export with
the same arguments gives the same numbers. Used by the tests, the Spark example and bench/bench_spark.py.
"""

import argparse
import os

# The words sentences() draws from; vocabulary() lists them first.
_WORDS = [f"w{i}" for i in range(5000)] + ["The", "a", "Cat", "dog", "sat", "ran", "on", "mat"]


def export_hashed_text_module(export_dir, buckets=4096, hidden=64, layers=1, dim=16, seed=0, overwrite=False,
                              vocab=0, embedding=None):
    """Write the module to `export_dir`; returns the directory.

    vocab: 0 hashes every token; V > 0 adds a V-token vocabulary asset (see the module docstring).
    embedding: the width of the token table (default: `hidden`); a linear map takes it to `hidden`.
    """
    import tempfile

    import numpy as np
    import tensorflow as tf

    from hubfn import export_savedmodel

    rng = np.random.default_rng(seed)
    embedding = embedding or hidden

    def weights(*shape, scale):
        return tf.Variable(rng.normal(0.0, scale, shape).astype(np.float32))

    class HashedText(tf.Module):
        def __init__(self, vocab_file=None):
            super().__init__()
            self.vocab = None
            if vocab_file is not None:  # saved as assets/tokens.txt; read again by every load
                self.vocab_file = tf.saved_model.Asset(vocab_file)
                self.vocab = tf.lookup.StaticVocabularyTable(
                    tf.lookup.TextFileInitializer(self.vocab_file, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                  tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER),
                    num_oov_buckets=buckets)
            self.table = weights(vocab + buckets, embedding, scale=0.5)
            self.project = weights(embedding, hidden, scale=embedding ** -0.5) if embedding != hidden else None
            self.hidden = [weights(hidden, hidden, scale=(2.0 / hidden) ** 0.5) for _ in range(layers)]
            self.out = weights(hidden, dim, scale=hidden ** -0.5)

        def embed(self, sentences):
            tokens = tf.strings.split(tf.strings.lower(sentences))  # ragged [rows, tokens]
            if self.vocab is None:
                ids = tf.strings.to_hash_bucket_fast(tokens, buckets)
            else:
                ids = tf.ragged.map_flat_values(self.vocab.lookup, tokens)
            summed = tf.reduce_sum(tf.gather(self.table, ids), axis=1)
            counts = tf.cast(tf.maximum(ids.row_lengths(), 1), tf.float32)[:, None]
            h = summed / counts
            if self.project is not None:
                h = tf.matmul(h, self.project)
            for w in self.hidden:
                h = tf.nn.relu(tf.matmul(h, w))
            return tf.matmul(h, self.out)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
        def __call__(self, sentences):
            return self.embed(sentences)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="left"),
                                      tf.TensorSpec([None], tf.string, name="right")])
        def compare(self, left, right):
            a, b = tf.math.l2_normalize(self.embed(left), 1), tf.math.l2_normalize(self.embed(right), 1)
            return {"similarity": tf.reduce_sum(a * b, axis=1), "left": self.embed(left)}

    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = None
        if vocab:
            vocab_file = os.path.join(tmp, "tokens.txt")
            with open(vocab_file, "w", encoding="utf-8") as f:
                f.writelines(f"{t}\n" for t in vocabulary(vocab))
        module = HashedText(vocab_file)
        return export_savedmodel(module, export_dir, signatures={"compare": module.compare}, overwrite=overwrite)


def vocabulary(size):
    """`size` distinct lower-case tokens: those sentences() uses first, then made-up ones."""
    words = [w.lower() for w in _WORDS]
    known = set(words)
    extra = (f"t{i}" for i in range(size))
    return (words + [t for t in extra if t not in known])[:size]



def sentences(n, seed=0, words=12):
    """`n` made-up sentences of 1..`words` words from a small vocabulary (some empty), as a list of str."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = np.array(_WORDS)
    lengths = rng.integers(0, words + 1, n)
    picks = rng.integers(0, len(vocab), int(lengths.sum()))
    out, at = [], 0
    for k in lengths:
        out.append(" ".join(vocab[picks[at:at + k]]))
        at += k
    return out


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description="Export the hashed-text example module.")
    parser.add_argument("out_dir")
    parser.add_argument("--buckets", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=0, help="vocabulary asset size (0: hash every token)")
    parser.add_argument("--embedding", type=int, default=None, help="token table width (default: --hidden)")
    parser.add_argument("--overwrite", action="store_true")
    a = parser.parse_args()
    print(export_hashed_text_module(a.out_dir, a.buckets, a.hidden, a.layers, a.dim, overwrite=a.overwrite,
                                    vocab=a.vocab, embedding=a.embedding))
