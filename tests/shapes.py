"""Builders of the module shapes people load from TF Hub, with small random weights.

Each `build_<shape>(dir)` writes one module into `dir` and returns `dir`. The shapes follow TF Hub's
public "common SavedModel APIs" (reusable SavedModels: `__call__`, `variables`, `trainable_variables`,
`regularization_losses`) and the TF1 hub format (`tfhub_module.pb`, graph variants by tag set), not
hubfn's own exporter, so that tests see what users load. Most are written with `tf.saved_model.save`
or TF1's SavedModel builder directly; the Keras ones go through `hubfn.export_savedmodel` and Keras 3's
`model.export`, as users of those do.

Shapes (TF2 unless named TF1):
  text_embedding          __call__(tf.string[?]) -> float32[?, DIM]; vocabulary asset + lookup table
  text_embedding_serving  the same with a "serving_default" signature
  image_feature_vector    __call__(images, training=False): conv, batch norm, dropout -> float32[?, 6]
  image_keras_hubfn       keras.applications.MobileNet (weights=None, 32x32) via hubfn.export_savedmodel
  image_keras_export      the same model via Keras 3 `model.export` (only "serving_default")
  bert_encoder            __call__(dict of int32 ids) -> default, pooled_output, sequence_output,
                          encoder_outputs (a list, one per layer)
  bert_encoder_keras      the same interface from a tf_keras functional model (as TF Hub's BERTs were saved)
  bert_preprocessor       __call__(tf.string[?]) -> dict of int32[?, SEQ_LENGTH]; sub-objects `tokenize`
                          and `bert_pack_inputs`
  bert_preprocessor_garden  the same API saved as the Model Garden's exporter does: bert_pack_inputs traced
                          for tokens of rank 2 and 3, seq_length a tensor argument (tests/shapes_garden.py)
  tf1_text                TF1: string inputs, vocabulary asset, signatures default/tokens/similarity
  tf1_image               TF1: {} and {"train"}; train has dropout, batch-norm UPDATE_OPS and an L2 loss
  tf1_sparse              TF1: a SparseTensor input (int64 ids) -> float32[?, DIM]
  ragged                  __call__(RaggedTensor float32[?, (?)]) -> row means
  mixed                   __call__(dict: float32, string, int64, bool) -> scalar + unknown-dim outputs;
                          also a "score" signature with the same inputs
  bare_call               __call__ saved as a bare concrete function (float32[?, 2] -> float32[?, 2]):
                          saved_model.pb holds no tf.function for it, so hubfn reads its specs from the
                          loaded object
"""

import os

import numpy as np

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "dog", "sat", "on", "a", "mat", "hub", "module",
         "runs", "fast"]
DIM = 8            # text embedding width
HIDDEN = 8         # BERT width
LAYERS = 2         # BERT layers (len(encoder_outputs))
SEQ_LENGTH = 16    # BERT preprocessor output length
IMAGE_FEATURES = 6
L2 = 1e-3


def _rng(seed):
    return np.random.RandomState(seed)


def _write_vocab(path, words=VOCAB):
    with open(path, "w") as f:
        f.write("\n".join(words) + "\n")
    return path


def _root():
    import tensorflow as tf

    return tf.__internal__.tracking.AutoTrackable()


def _reusable(root, variables, trainable, losses):
    """Set the reusable-SavedModel attributes on `root` (lists, as the common API describes)."""
    import tensorflow as tf

    root.variables = list(variables)
    root.trainable_variables = list(trainable)
    root.regularization_losses = [tf.function(fn, input_signature=[]) for fn in losses]


# --- 1. text embedding ---------------------------------------------------------------------------
def _text_embedding_root(tmp_vocab, seed):
    import tensorflow as tf

    root = _root()
    root.vocab = tf.saved_model.Asset(tmp_vocab)
    init = tf.lookup.TextFileInitializer(root.vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                         tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    root.table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=2)
    root.embeddings = tf.Variable(_rng(seed).randn(len(VOCAB) + 2, DIM).astype(np.float32) * 0.5,
                                  name="embeddings")
    table, emb = root.table, root.embeddings

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def embed(sentences):
        words = tf.strings.split(tf.strings.lower(sentences))            # ragged [batch, (words)]
        ids = tf.ragged.map_flat_values(table.lookup, words)
        vectors = tf.ragged.map_flat_values(tf.nn.embedding_lookup, emb, ids)
        count = tf.cast(words.row_lengths(), tf.float32)
        return tf.reduce_sum(vectors, axis=1) / tf.sqrt(tf.maximum(count, 1.0))[:, None]  # sqrtn combiner

    root.__call__ = embed
    _reusable(root, [emb], [emb], [lambda: L2 * tf.reduce_sum(tf.square(emb))])
    return root


def text_embedding_numpy(sentences, embeddings):
    """What the text embedding computes, in NumPy (for checking numbers by hand)."""
    index = {w: i for i, w in enumerate(VOCAB)}
    out = []
    for s in sentences:
        words = s.lower().split()
        rows = [embeddings[index[w]] if w in index else None for w in words]
        if any(r is None for r in rows):
            raise ValueError("text_embedding_numpy handles in-vocabulary words only")
        out.append(np.sum(rows, axis=0) / np.sqrt(max(len(rows), 1)) if rows else np.zeros(DIM))
    return np.array(out, np.float32)


def build_text_embedding(path, seed=1):
    import tensorflow as tf

    path = os.fspath(path)
    vocab = _write_vocab(path + ".vocab.txt")
    tf.saved_model.save(_text_embedding_root(vocab, seed), path, signatures={})  # __call__ only
    return path


def build_text_embedding_serving(path, seed=1):
    import tensorflow as tf

    path = os.fspath(path)
    vocab = _write_vocab(path + ".vocab.txt")
    root = _text_embedding_root(vocab, seed)
    tf.saved_model.save(root, path, signatures={"serving_default": root.__call__.get_concrete_function()})
    return path


# --- 2. image feature vectors --------------------------------------------------------------------
def build_image_feature_vector(path, seed=2):
    """conv 3x3 (stride 2) -> batch norm -> relu -> global average -> dropout(0.5 in training)."""
    import tensorflow as tf

    rng, root = _rng(seed), _root()
    kernel = tf.Variable(rng.randn(3, 3, 3, IMAGE_FEATURES).astype(np.float32) * 0.3, name="conv/kernel")
    gamma = tf.Variable(np.ones(IMAGE_FEATURES, np.float32) + 0.1 * rng.randn(IMAGE_FEATURES).astype(np.float32),
                        name="bn/gamma")
    beta = tf.Variable(0.1 * rng.randn(IMAGE_FEATURES).astype(np.float32), name="bn/beta")
    mean = tf.Variable(0.1 * rng.randn(IMAGE_FEATURES).astype(np.float32), trainable=False, name="bn/moving_mean")
    var = tf.Variable(np.ones(IMAGE_FEATURES, np.float32), trainable=False, name="bn/moving_variance")
    root.parts = [kernel, gamma, beta, mean, var]

    def call(images, training=False):
        x = tf.nn.conv2d(images, kernel, strides=2, padding="SAME")
        if training:
            m, v = tf.nn.moments(x, axes=[0, 1, 2])
            mean.assign(0.9 * mean + 0.1 * m)
            var.assign(0.9 * var + 0.1 * v)
        else:
            m, v = mean, var
        x = tf.nn.relu(tf.nn.batch_normalization(x, m, v, beta, gamma, 1e-3))
        x = tf.reduce_mean(x, axis=[1, 2])
        return tf.nn.dropout(x, rate=0.5) if training else x

    fn = tf.function(call)
    spec = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    for training in (False, True):
        fn.get_concrete_function(spec, training=training)
    root.__call__ = fn
    _reusable(root, root.parts, [kernel, gamma, beta], [lambda: L2 * tf.reduce_sum(tf.square(kernel))])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def _mobilenet(seed):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None,
                                        pooling="avg")


def build_image_keras_hubfn(path, seed=3):
    import hubfn

    return hubfn.export_savedmodel(_mobilenet(seed), path)


def build_image_keras_export(path, seed=3):
    model = _mobilenet(seed)
    model.export(os.fspath(path), format="tf_saved_model", verbose=False)
    return os.fspath(path)


# --- 3. BERT-style encoder and preprocessor ------------------------------------------------------
def _bert_weights(seed):
    rng = _rng(seed)
    w = {"word": rng.randn(len(VOCAB), HIDDEN), "type": rng.randn(2, HIDDEN), "pos": rng.randn(64, HIDDEN),
         "pool": rng.randn(HIDDEN, HIDDEN)}
    for i in range(LAYERS):
        w[f"layer{i}"] = rng.randn(HIDDEN, HIDDEN) / np.sqrt(HIDDEN)
    return {k: (0.5 * v).astype(np.float32) for k, v in w.items()}


def bert_encoder_numpy(word_ids, mask, type_ids, seed=4):
    """What both encoders compute, in NumPy: {pooled_output, sequence_output, encoder_outputs}."""
    w = _bert_weights(seed)
    word_ids, mask, type_ids = (np.asarray(a, np.int64) for a in (word_ids, mask, type_ids))
    x = w["word"][word_ids] + w["type"][type_ids] + w["pos"][: word_ids.shape[1]][None]
    outs = []
    for i in range(LAYERS):
        x = np.tanh(x @ w[f"layer{i}"]) * mask[..., None]
        outs.append(x)
    pooled = np.tanh(x[:, 0] @ w["pool"])
    return {"pooled_output": pooled, "sequence_output": x, "encoder_outputs": outs}


def _bert_forward(tf, v, inputs):
    ids, mask, types = inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"]
    x = tf.gather(v["word"], ids) + tf.gather(v["type"], types) + v["pos"][None, : tf.shape(ids)[1]]
    maskf = tf.cast(mask, tf.float32)[..., None]
    outs = []
    for i in range(LAYERS):
        x = tf.tanh(tf.einsum("bsh,hk->bsk", x, v[f"layer{i}"])) * maskf
        outs.append(x)
    pooled = tf.tanh(tf.matmul(x[:, 0], v["pool"]))
    return {"default": pooled, "pooled_output": pooled, "sequence_output": x, "encoder_outputs": outs}


def _bert_input_specs(tf):
    return {k: tf.TensorSpec([None, None], tf.int32, name=k)
            for k in ("input_word_ids", "input_mask", "input_type_ids")}


def build_bert_encoder(path, seed=4):
    import tensorflow as tf

    root = _root()
    v = {k: tf.Variable(a, name=k) for k, a in _bert_weights(seed).items()}
    root.weights = list(v.values())

    def call(inputs, training=False):
        return _bert_forward(tf, v, inputs)

    fn = tf.function(call)
    for training in (False, True):
        fn.get_concrete_function(_bert_input_specs(tf), training=training)
    root.__call__ = fn
    _reusable(root, root.weights, root.weights, [])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def build_bert_encoder_keras(path, seed=4):
    """The encoder as a tf_keras functional model saved by tf.saved_model.save (Keras-named signature outputs)."""
    import tensorflow as tf
    import tf_keras

    weights = _bert_weights(seed)

    class Encoder(tf_keras.layers.Layer):
        def build(self, input_shape):
            self.v = {k: self.add_weight(name=k, shape=a.shape, initializer=tf_keras.initializers.Constant(a))
                      for k, a in weights.items()}

        def call(self, inputs):
            return _bert_forward(tf, self.v, inputs)

    inputs = {k: tf_keras.Input(shape=(None,), dtype=tf.int32, name=k)
              for k in ("input_word_ids", "input_mask", "input_type_ids")}
    model = tf_keras.Model(inputs, Encoder(name="bert_encoder")(inputs))
    tf.saved_model.save(model, os.fspath(path))
    return os.fspath(path)


_SPECIAL = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}


def build_bert_preprocessor(path, seed=5):
    """__call__(strings) = bert_pack_inputs([tokenize(strings)], seq_length=SEQ_LENGTH)."""
    import tensorflow as tf

    path = os.fspath(path)
    root = _root()
    root.vocab = tf.saved_model.Asset(_write_vocab(path + ".vocab.txt"))
    init = tf.lookup.TextFileInitializer(root.vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                         tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    root.table = tf.lookup.StaticHashTable(init, default_value=_SPECIAL["[UNK]"])
    table = root.table

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="strings")])
    def tokenize(strings):
        # words, then word pieces: here each word is one piece, giving TF Hub's [batch, (words), (pieces)].
        words = tf.strings.split(tf.strings.lower(strings))
        ids = tf.cast(tf.ragged.map_flat_values(table.lookup, words), tf.int32)
        pieces = tf.RaggedTensor.from_row_lengths(ids.flat_values, tf.ones_like(ids.flat_values, tf.int64))
        return ids.with_flat_values(pieces)

    def pack(inputs, seq_length=SEQ_LENGTH):
        segments = [seg.merge_dims(1, -1) if seg.shape.rank > 2 else seg for seg in inputs]
        budget = (seq_length - 1 - len(segments)) // len(segments)  # equal share per segment
        pieces, types = [tf.fill([tf.shape(segments[0].row_splits)[0] - 1, 1], _SPECIAL["[CLS]"])], []
        types.append(tf.zeros_like(pieces[0]))
        for i, seg in enumerate(segments):
            seg = seg[:, :budget]
            sep = tf.fill([seg.nrows(), 1], _SPECIAL["[SEP]"])
            part = tf.concat([seg, tf.RaggedTensor.from_tensor(sep)], axis=1)
            pieces.append(part)
            types.append(tf.ones_like(part) * i)
        ids = tf.concat([tf.RaggedTensor.from_tensor(pieces[0])] + pieces[1:], axis=1)
        type_ids = tf.concat([tf.RaggedTensor.from_tensor(types[0])] + types[1:], axis=1)
        shape = [None, seq_length]
        word_ids = ids.to_tensor(0, shape=shape)
        return {"input_word_ids": word_ids,
                "input_mask": tf.cast(word_ids > 0, tf.int32),
                "input_type_ids": type_ids.to_tensor(0, shape=shape)}

    bert_pack_inputs = tf.function(pack)
    ragged = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    for n in (1, 2):
        bert_pack_inputs.get_concrete_function([ragged] * n, seq_length=SEQ_LENGTH)
    root.tokenize = tokenize
    root.bert_pack_inputs = bert_pack_inputs

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="strings")])
    def call(strings):
        return pack([tokenize(strings)], SEQ_LENGTH)

    root.__call__ = call
    _reusable(root, [], [], [])
    tf.saved_model.save(root, path, signatures={})
    return path


def tokenize_numpy(sentence):
    index = {w: i for i, w in enumerate(VOCAB)}
    return [index.get(w, _SPECIAL["[UNK]"]) for w in sentence.lower().split()]


# --- 4. TF1 hub format ---------------------------------------------------------------------------
def _tf1_module(path, build, variants=((),)):
    """Write a TF1 hub-format module: `build(train)` makes one graph and returns its signature map."""
    import tensorflow as tf

    v1 = tf.compat.v1
    path = os.path.abspath(os.fspath(path))
    builder = v1.saved_model.Builder(path)
    for i, tags in enumerate(variants):
        with tf.Graph().as_default():
            sigs = build("train" in tags)
            with v1.Session() as sess:
                sess.run(v1.global_variables_initializer())
                sess.run(v1.tables_initializer())
                kwargs = dict(signature_def_map=sigs, main_op=v1.tables_initializer(),
                              assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS))
                if i == 0:
                    builder.add_meta_graph_and_variables(sess, list(tags), **kwargs)
                else:
                    builder.add_meta_graph(list(tags), **kwargs)
    builder.save()
    with open(os.path.join(path, "tfhub_module.pb"), "wb") as f:
        f.write(b"\x08\x03")  # ModuleDef: format = 3, what the TF1 hub format writes
    return path


def _sig(inputs, outputs):
    import tensorflow as tf

    v1 = tf.compat.v1
    info = v1.saved_model.utils.build_tensor_info
    return v1.saved_model.signature_def_utils.build_signature_def(
        inputs={k: info(t) for k, t in inputs.items()}, outputs={k: info(t) for k, t in outputs.items()},
        method_name="tensorflow/serving/predict")


def build_tf1_text(path, seed=6):
    """default(default: string[?]) -> default float32[?, DIM]; tokens(default) -> int64 ids [?, ?];
    similarity(first, second: string[?]) -> default float32[?] (cosine of the two embeddings)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    path = os.fspath(path)
    vocab = _write_vocab(path + ".vocab.txt")
    emb_init = _rng(seed).randn(len(VOCAB) + 1, DIM).astype(np.float32) * 0.5

    def build(train):
        # The vocabulary is an asset: the table reads the very tensor the ASSET_FILEPATHS collection names,
        # which the loader points at the module's assets/ copy (as TF1 hub modules are made).
        vocab_path = tf.constant(vocab)
        v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, vocab_path)
        table = tf.lookup.StaticVocabularyTable(
            tf.lookup.TextFileInitializer(vocab_path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), num_oov_buckets=1)
        emb = v1.get_variable("embeddings", initializer=emb_init)

        def ids_of(text):
            return tf.ragged.map_flat_values(table.lookup, tf.strings.split(text))

        def embed(text):
            ids = ids_of(text)
            vec = tf.reduce_sum(tf.ragged.map_flat_values(tf.nn.embedding_lookup, emb, ids), axis=1)
            return vec / tf.sqrt(tf.maximum(tf.cast(ids.row_lengths(), tf.float32), 1.0))[:, None]

        text = v1.placeholder(tf.string, [None], name="text")
        first = v1.placeholder(tf.string, [None], name="first")
        second = v1.placeholder(tf.string, [None], name="second")
        a, b = tf.nn.l2_normalize(embed(first), 1), tf.nn.l2_normalize(embed(second), 1)
        return {"default": _sig({"default": text}, {"default": embed(text)}),
                "tokens": _sig({"default": text}, {"default": ids_of(text).to_tensor(-1)}),
                "similarity": _sig({"first": first, "second": second}, {"default": tf.reduce_sum(a * b, 1)})}

    return _tf1_module(path, build)


def build_tf1_image(path, seed=7):
    """{}: images float32[?, 8, 8, 3] -> default float32[?, 4] with moving statistics;
    {"train"}: batch statistics (moving ones updated through UPDATE_OPS), dropout 0.5, an L2 loss."""
    import tensorflow as tf

    v1 = tf.compat.v1
    rng = _rng(seed)
    kernel_init = rng.randn(3, 3, 3, 4).astype(np.float32) * 0.3
    gamma_init = (1 + 0.1 * rng.randn(4)).astype(np.float32)
    beta_init = (0.1 * rng.randn(4)).astype(np.float32)

    def build(train):
        images = v1.placeholder(tf.float32, [None, 8, 8, 3], name="images")
        kernel = v1.get_variable("conv/kernel", initializer=kernel_init)
        gamma = v1.get_variable("bn/gamma", initializer=gamma_init)
        beta = v1.get_variable("bn/beta", initializer=beta_init)
        mean = v1.get_variable("bn/moving_mean", initializer=np.zeros(4, np.float32), trainable=False)
        var = v1.get_variable("bn/moving_variance", initializer=np.ones(4, np.float32), trainable=False)
        x = tf.nn.conv2d(images, kernel, strides=2, padding="SAME")
        if train:
            m, v = tf.nn.moments(x, axes=[0, 1, 2])
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, v1.assign(mean, 0.9 * mean + 0.1 * m))
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, v1.assign(var, 0.9 * var + 0.1 * v))
            v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES,
                                 tf.multiply(L2, tf.reduce_sum(tf.square(kernel)), name="l2"))
        else:
            m, v = mean, var
        x = tf.reduce_mean(tf.nn.relu(tf.nn.batch_normalization(x, m, v, beta, gamma, 1e-3)), axis=[1, 2])
        if train:
            x = tf.nn.dropout(x, rate=0.5)
        return {"default": _sig({"images": images}, {"default": x})}

    return _tf1_module(path, build, variants=((), ("train",)))


def build_tf1_sparse(path, seed=8):
    """default(default: SparseTensor int64[?, ?] of word ids) -> float32[?, DIM] (mean of the embeddings)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    emb_init = _rng(seed).randn(len(VOCAB), DIM).astype(np.float32) * 0.5

    def build(train):
        ids = v1.sparse_placeholder(tf.int64, [None, None], name="ids")
        emb = v1.get_variable("embeddings", initializer=emb_init)
        out = tf.nn.embedding_lookup_sparse(emb, ids, None, combiner="mean")
        return {"default": _sig({"default": ids}, {"default": out})}

    return _tf1_module(path, build)


# --- 5. ragged and mixed inputs ------------------------------------------------------------------
def build_ragged(path, seed=9):
    """__call__(RaggedTensor float32[?, (?)]) -> float32[?]: each row's mean times a weight."""
    import tensorflow as tf

    root = _root()
    root.scale = tf.Variable(np.float32(1.0 + _rng(seed).rand()), name="scale")
    scale = root.scale

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1)])
    def call(values):
        return tf.reduce_mean(values, axis=1) * scale

    root.__call__ = call
    _reusable(root, [scale], [scale], [])
    tf.saved_model.save(root, os.fspath(path), signatures={})
    return os.fspath(path)


def _mixed_specs(tf):
    return {"x": tf.TensorSpec([None, 3], tf.float32, name="x"), "text": tf.TensorSpec([None], tf.string, name="text"),
            "count": tf.TensorSpec([None], tf.int64, name="count"), "flag": tf.TensorSpec([None], tf.bool, name="flag")}


def build_mixed(path, seed=10):
    """__call__({x: float32[?, 3], text: string[?], count: int64[?], flag: bool[?]}) ->
    {total: float32 scalar, tiled: float32[?, ?] (x repeated `max(count)` times), length: int64[?]};
    "score" is the same as a signature with four named inputs."""
    import tensorflow as tf

    root = _root()
    root.w = tf.Variable(_rng(seed).randn(3).astype(np.float32), name="w")
    w = root.w

    def compute(x, text, count, flag):
        scores = tf.reduce_sum(x * w, axis=1) * tf.cast(flag, tf.float32)
        tiled = tf.tile(x, [1, tf.cast(tf.reduce_max(count), tf.int32)])
        return {"total": tf.reduce_sum(scores) + tf.cast(tf.reduce_sum(count), tf.float32),
                "tiled": tiled, "length": tf.cast(tf.strings.length(text), tf.int64) + count}

    specs = _mixed_specs(tf)

    @tf.function(input_signature=[specs])
    def call(inputs):
        return compute(**inputs)

    @tf.function(input_signature=list(specs.values()))
    def score(x, text, count, flag):
        return compute(x, text, count, flag)

    root.__call__ = call
    root.score = score
    _reusable(root, [w], [w], [])
    tf.saved_model.save(root, os.fspath(path), signatures={"score": score.get_concrete_function()})
    return os.fspath(path)


def build_bare_call(path, seed=11):
    """y = x @ w; `__call__` is the concrete function itself (root.__call__ = f.get_concrete_function())."""
    import tensorflow as tf

    root = _root()
    root.w = tf.Variable(_rng(seed).randn(2, 2).astype(np.float32), name="w")
    w = root.w
    call = tf.function(lambda x: tf.matmul(x, w), autograph=False)
    root.__call__ = call.get_concrete_function(tf.TensorSpec([None, 2], tf.float32, name="x"))
    tf.saved_model.save(root, os.fspath(path), signatures={})
    return os.fspath(path)


def mixed_numpy(x, text, count, flag, w):
    x, count, flag = np.asarray(x, np.float32), np.asarray(count, np.int64), np.asarray(flag, bool)
    scores = (x * w).sum(axis=1) * flag
    return {"total": scores.sum() + count.sum(), "tiled": np.tile(x, (1, int(count.max()))),
            "length": np.array([len(t.encode()) for t in text]) + count}


# TF Hub's BERT preprocessors as the Model Garden's exporter saves them (several traces of bert_pack_inputs).
from shapes_garden import build_bert_preprocessor_garden  # noqa: E402,F401

BUILDERS = {name[len("build_"):]: fn for name, fn in dict(globals()).items() if name.startswith("build_")}
