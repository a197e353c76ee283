"""A BERT preprocessor saved the way TF Hub's are: by the TF Model Garden's exporter
(`official/nlp/tools/export_tfhub.py --export_type=preprocessing`).

What makes that exporter's modules different from tests/shapes.py's `bert_preprocessor` is the
`bert_pack_inputs` sub-object: an object whose `__call__(inputs, seq_length=<default>)` is a tf.function
traced for 1 and 2 segments of tokens of rank 2 ([batch, (tokens)]) and rank 3 ([batch, (words),
(word pieces)], what `tokenize` returns), with `seq_length` a scalar int32 *tensor* whose Python default is
the root's sequence length. TensorFlow picks the concrete function that matches each call, so the
documented text-pair recipe

    p.bert_pack_inputs([p.tokenize(premises), p.tokenize(hypotheses)], seq_length=48)

runs, and so does packing segments of rank 2. Tokenizing here is core TensorFlow (lower case, split on
spaces, each word one word piece), not tensorflow_text, which this test process must not import
(tests/test_oplibs.py); the packing follows the public preprocessor API: [CLS] segment [SEP] segment [SEP],
input_type_ids 0 then 1, each segment trimmed to an equal share of seq_length.
"""

import os

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "dog", "sat", "on", "a", "mat", "ran", "is",
         "an", "animal", "outside"]
PAD, UNK, CLS, SEP = 0, 1, 2, 3
DEFAULT_SEQ_LENGTH = 16


def pack(tf, segments, seq_length):
    """{input_word_ids, input_mask, input_type_ids}, int32 [batch, seq_length], of ragged token segments."""
    segments = [s.merge_dims(1, -1) if s.shape.rank > 2 else s for s in segments]
    seq_length = tf.cast(seq_length, tf.int32)
    share = (seq_length - 1 - len(segments)) // len(segments)
    rows = segments[0].nrows(out_type=tf.int32)
    cls = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], CLS))
    sep = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], SEP))
    ids, types = [cls], [tf.zeros_like(cls)]
    for i, segment in enumerate(segments):
        part = tf.concat([tf.cast(segment[:, :share], tf.int32), sep], axis=1)
        ids.append(part)
        types.append(tf.ones_like(part) * i)
    shape = tf.stack([rows, seq_length])
    word_ids = tf.concat(ids, axis=1).to_tensor(PAD, shape=shape)
    return {"input_word_ids": word_ids, "input_mask": tf.cast(word_ids != PAD, tf.int32),
            "input_type_ids": tf.concat(types, axis=1).to_tensor(0, shape=shape)}


def build_bert_preprocessor_garden(path, seq_length=DEFAULT_SEQ_LENGTH):
    import tensorflow as tf

    path = os.fspath(path)
    vocab_file = path + ".vocab.txt"
    with open(vocab_file, "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    root = tf.__internal__.tracking.AutoTrackable()  # (tf.Module's variables cannot be set)
    root.vocab = tf.saved_model.Asset(vocab_file)
    root.table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(root.vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                      tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), default_value=UNK)
    table = root.table

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def tokenize(sentences):  # [batch, (words), (word pieces)]
        words = tf.strings.split(tf.strings.lower(sentences))
        ids = tf.cast(tf.ragged.map_flat_values(table.lookup, words), tf.int32)
        return ids.with_flat_values(tf.RaggedTensor.from_row_lengths(ids.flat_values,
                                                                     tf.ones_like(ids.flat_values, tf.int64)))

    # The exporter's wrapper object: seq_length a tensor argument with a Python default.
    packer = tf.Module()

    @tf.function(autograph=False)
    def call(inputs, seq_length=seq_length):
        return pack(tf, inputs, seq_length)

    packer.__call__ = call
    for rank in (2, 3):
        for n_segments in (1, 2):
            spec = tf.RaggedTensorSpec([None] * rank, tf.int32, ragged_rank=rank - 1)
            call.get_concrete_function([spec] * n_segments, seq_length=tf.TensorSpec([], tf.int32))

    tokenizer = tf.Module()
    tokenizer.__call__ = tokenize
    root.tokenize = tokenizer
    root.bert_pack_inputs = packer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def preprocess(sentences):
        return pack(tf, [tokenize(sentences)], seq_length)

    root.__call__ = preprocess
    root.variables, root.trainable_variables, root.regularization_losses = [], [], []
    tf.saved_model.save(root, path, signatures={})
    return path


def encode_numpy(sentences):
    """Token ids of each sentence (one word, one piece), as `tokenize` gives them flattened."""
    index = {w: i for i, w in enumerate(VOCAB)}
    return [[index.get(w, UNK) for w in s.lower().split()] for s in sentences]
