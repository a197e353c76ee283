"""Modules shaped like common TF Hub modules, written with small random weights for the R tests.

Each follows TF Hub's "common SavedModel APIs" (a reusable SavedModel: `__call__`, `variables`,
`trainable_variables`, `regularization_losses`), saved with tf.saved_model.save as publishers do:
- image_feature_vector: __call__(images: float32[?, 8, 8, 3], training=False) -> float32[?, 4]
- text_embedding: __call__(float strings [?]) -> float32[?, 3] (hashed words, sqrt-n combiner)
- bert_preprocessor: __call__(strings [?]) -> dict of int32[?, 8] ids; sub-object `tokenize`
- bert_preprocessor_garden: the same API as TF Hub's BERT preprocessors are saved (by the Model Garden's
  exporter): `bert_pack_inputs` traced for tokens of rank 2 and 3, `seq_length` a tensor argument
- bert_encoder: __call__(dict of int32[?, 8]) -> pooled_output, sequence_output, default and a
  *list* encoder_outputs (one per layer)
- two_input_keras: a Keras 3 functional model adding its two inputs, exported by hubfn
"""

import numpy as np
import tensorflow as tf

SEQ = 8
VOCAB = 50


def _var(shape, seed, name):
    rng = np.random.default_rng(seed)
    return tf.Variable(rng.normal(0, 0.5, shape).astype(np.float32), name=name)


class _Reusable(tf.__internal__.tracking.AutoTrackable):
    """A plain trackable object (tf.Module's `variables` are read-only properties)."""

    def _finish(self):
        own = [v for v in vars(self).values() if isinstance(v, tf.Variable)]
        own += [v for v in getattr(self, "layers", [])]
        self.variables = own
        self.trainable_variables = list(own)
        self.regularization_losses = []


class ImageFeatureVector(_Reusable):
    def __init__(self):
        self.w = _var([3, 4], 1, "w")
        self.b = tf.Variable(tf.zeros([4]), name="b")
        self._finish()

    @tf.function
    def __call__(self, images, training=False):
        pooled = tf.reduce_mean(images, axis=[1, 2])
        out = tf.nn.relu(pooled @ self.w + self.b)
        if training:
            out = tf.nn.dropout(out, 0.1)
        return out


def image_feature_vector(path):
    m = ImageFeatureVector()
    spec = tf.TensorSpec([None, 8, 8, 3], tf.float32, name="images")
    for training in (False, True):
        m.__call__.get_concrete_function(spec, training=training)
    tf.saved_model.save(m, path)
    return path


def _hash_ids(strings):
    words = tf.strings.split(tf.strings.lower(strings))
    return tf.strings.to_hash_bucket_fast(words, VOCAB)


class TextEmbedding(_Reusable):
    def __init__(self):
        self.table = _var([VOCAB, 3], 2, "embeddings")
        self._finish()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def __call__(self, sentences):
        ids = _hash_ids(sentences)
        vectors = tf.gather(self.table, ids)
        n = tf.cast(tf.maximum(ids.row_lengths(), 1), tf.float32)
        return tf.reduce_sum(vectors, axis=1) / tf.sqrt(n)[:, None]


def text_embedding(path):
    tf.saved_model.save(TextEmbedding(), path)
    return path


class Tokenizer(tf.__internal__.tracking.AutoTrackable):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="strings")])
    def __call__(self, strings):
        return tf.cast(_hash_ids(strings), tf.int32) + 2  # 0: padding, 1: start


class BertPreprocessor(tf.__internal__.tracking.AutoTrackable):
    def __init__(self):
        self.tokenize = Tokenizer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def __call__(self, sentences):
        tokens = self.tokenize(sentences)
        ids = tf.concat([tf.ones_like(tokens[:, :1]), tokens], axis=1)
        ids = ids.to_tensor(default_value=0, shape=[None, SEQ])
        mask = tf.cast(ids > 0, tf.int32)
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": tf.zeros_like(ids)}


def bert_preprocessor(path):
    tf.saved_model.save(BertPreprocessor(), path)
    return path


def _pack(segments, seq_length):
    """[start] segment [end] segment [end] in seq_length ids (padding 0), type ids 0 then 1."""
    segments = [s.merge_dims(1, -1) if s.shape.rank > 2 else s for s in segments]
    seq_length = tf.cast(seq_length, tf.int32)
    share = (seq_length - 1 - len(segments)) // len(segments)
    rows = segments[0].nrows(out_type=tf.int32)
    ends = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], 1))
    ids, types = [ends], [tf.zeros_like(ends)]
    for i, segment in enumerate(segments):
        part = tf.concat([segment[:, :share], ends], axis=1)
        ids, types = ids + [part], types + [tf.ones_like(part) * i]
    shape = tf.stack([rows, seq_length])
    word_ids = tf.concat(ids, axis=1).to_tensor(0, shape=shape)
    return {"input_word_ids": word_ids, "input_mask": tf.cast(word_ids > 0, tf.int32),
            "input_type_ids": tf.concat(types, axis=1).to_tensor(0, shape=shape)}


def bert_preprocessor_garden(path):
    """A BERT preprocessor saved as the TF Model Garden's exporter saves TF Hub's: `tokenize` gives
    [batch, (words), (word pieces)] and `bert_pack_inputs`, an object whose __call__(inputs,
    seq_length=SEQ) is traced for 1 and 2 segments of rank 2 and rank 3, seq_length an int32 tensor."""
    root = _Reusable()
    tokenizer, packer = tf.Module(), tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def tokenize(sentences):
        ids = tf.cast(_hash_ids(sentences), tf.int32) + 2
        return ids.with_flat_values(tf.RaggedTensor.from_row_lengths(ids.flat_values,
                                                                     tf.ones_like(ids.flat_values, tf.int64)))

    @tf.function(autograph=False)
    def pack(inputs, seq_length=SEQ):
        return _pack(inputs, seq_length)

    for rank in (2, 3):
        for n in (1, 2):
            pack.get_concrete_function([tf.RaggedTensorSpec([None] * rank, tf.int32, rank - 1)] * n,
                                       seq_length=tf.TensorSpec([], tf.int32))
    tokenizer.__call__, packer.__call__ = tokenize, pack
    root.tokenize, root.bert_pack_inputs = tokenizer, packer
    root.__call__ = tf.function(lambda sentences: _pack([tokenize(sentences)], SEQ),
                                input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    root._finish()
    tf.saved_model.save(root, path, signatures={})
    return path


class BertEncoder(_Reusable):
    def __init__(self):
        self.embeddings = _var([VOCAB + 2, 4], 3, "word_embeddings")
        self.layers = [_var([4, 4], 4 + i, f"layer_{i}") for i in range(2)]
        self.pooler = _var([4, 4], 9, "pooler")
        self._finish()

    @tf.function(input_signature=[{
        "input_word_ids": tf.TensorSpec([None, SEQ], tf.int32, name="input_word_ids"),
        "input_mask": tf.TensorSpec([None, SEQ], tf.int32, name="input_mask"),
        "input_type_ids": tf.TensorSpec([None, SEQ], tf.int32, name="input_type_ids")}])
    def __call__(self, inputs):
        x = tf.gather(self.embeddings, inputs["input_word_ids"])
        x *= tf.cast(inputs["input_mask"], tf.float32)[:, :, None]
        outputs = []
        for w in self.layers:
            x = tf.tanh(tf.einsum("bsd,de->bse", x, w))
            outputs.append(x)
        pooled = tf.tanh(x[:, 0, :] @ self.pooler)
        return {"pooled_output": pooled, "sequence_output": x, "default": pooled, "encoder_outputs": outputs}


def bert_encoder(path):
    tf.saved_model.save(BertEncoder(), path)
    return path


def two_input_keras(path):
    import keras

    import hubfn

    a = keras.Input(shape=(1,), name="a")
    b = keras.Input(shape=(1,), name="b")
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    return str(hubfn.export_savedmodel(model, path))
