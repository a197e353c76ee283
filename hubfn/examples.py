"""Small example modules, built on the spot: for the demo, the tests, the R package and the vignettes.

- `fruit_module`: a TF2 module with a "default" signature (x: float32[?, 2] -> float32[?, 2]) and the
  seed's "fruit_to_pet" signature (apples, oranges -> cats, dogs).
- `tf1_hub_module`: a TF1 hub-format module (tfhub_module.pb) with graph variants {} and {"train"}; the
  train variant adds an L2 regularization loss and a "hidden" signature.

Weights are fixed numbers so results can be checked by hand.
"""

import os

import numpy as np

from .util.tfimport import import_tensorflow

# fruit_module: default(x) = x @ FRUIT_W + FRUIT_B; cats = 2*apples + oranges; dogs = apples - 3*oranges
FRUIT_W = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
FRUIT_B = np.array([0.5, -0.5], dtype=np.float32)
PET_W = np.array([[2.0, 1.0], [1.0, -3.0]], dtype=np.float32)  # rows: apples, oranges; cols: cats, dogs

# tf1_hub_module: y = relu(x @ W1) @ W2 + B2, with x: float32[?, 3]; L2 loss = L2_SCALE * sum(W1**2)
TF1_W1 = np.array([[0.5, -1.0, 0.25, 1.0], [1.0, 0.5, -0.5, 0.0], [-0.25, 1.0, 1.0, 0.5]], np.float32)
TF1_W2 = np.array([[1.0], [-0.5], [0.75], [0.25]], np.float32)
TF1_B2 = np.array([0.1], np.float32)
L2_SCALE = 0.01


def fruit_module(export_dir, overwrite=False):
    """Export the fruit example module to `export_dir`; returns the directory."""
    tf = import_tensorflow()

    from .export import export_savedmodel

    class Fruit(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(FRUIT_W, name="w")
            self.b = tf.Variable(FRUIT_B, name="b")
            self.pet = tf.Variable(PET_W, name="pet")

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="apples"),
                                      tf.TensorSpec([None], tf.float32, name="oranges")])
        def fruit_to_pet(self, apples, oranges):
            fruit = tf.stack([apples, oranges], axis=1)
            pets = tf.matmul(fruit, self.pet)
            return {"cats": pets[:, 0], "dogs": pets[:, 1]}

    fruit = Fruit()
    return export_savedmodel(fruit, export_dir, signatures={"fruit_to_pet": fruit.fruit_to_pet},
                             overwrite=overwrite)


def tf1_forward(x, w1=TF1_W1, w2=TF1_W2, b2=TF1_B2):
    """What tf1_hub_module computes, in NumPy, for checking."""
    return np.maximum(np.asarray(x, np.float32) @ w1, 0.0) @ w2 + b2


def tf1_hub_module(export_dir, w1=TF1_W1, w2=TF1_W2, b2=TF1_B2, batch_norm=False):
    """Build the TF1 hub-format example with tf.compat.v1; returns the directory.

    batch_norm=True adds a moving mean of the hidden layer (a non-trainable variable, "moving_mean")
    that the {"train"} variant updates through the UPDATE_OPS collection, as batch normalization does.
    """
    tf = import_tensorflow()

    v1 = tf.compat.v1
    export_dir = os.path.abspath(os.fspath(export_dir))
    builder = v1.saved_model.Builder(export_dir)
    info = v1.saved_model.utils.build_tensor_info
    for train in (False, True):
        with tf.Graph().as_default():
            x = v1.placeholder(tf.float32, [None, 3], name="x")
            var_w1 = v1.get_variable("w1", initializer=w1)
            var_w2 = v1.get_variable("w2", initializer=w2)
            var_b2 = v1.get_variable("b2", initializer=b2)
            hidden = tf.nn.relu(tf.matmul(x, var_w1))
            if batch_norm:
                moving = v1.get_variable("moving_mean", initializer=np.zeros(4, np.float32), trainable=False)
                if train:
                    update = v1.assign(moving, 0.9 * moving + 0.1 * tf.reduce_mean(hidden, axis=0))
                    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
            y = tf.matmul(hidden, var_w2) + var_b2
            sigs = {"default": v1.saved_model.signature_def_utils.build_signature_def(
                inputs={"default": info(x)}, outputs={"default": info(y)},
                method_name="tensorflow/serving/predict")}
            if train:
                l2 = tf.multiply(L2_SCALE, tf.reduce_sum(tf.square(var_w1)), name="l2_loss")
                v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES, l2)
                sigs["hidden"] = v1.saved_model.signature_def_utils.build_signature_def(
                    inputs={"default": info(x)}, outputs={"default": info(hidden)},
                    method_name="tensorflow/serving/predict")
            with v1.Session() as sess:
                sess.run(v1.global_variables_initializer())
                tags = ["train"] if train else []
                if not train:
                    builder.add_meta_graph_and_variables(sess, tags, signature_def_map=sigs)
                else:
                    builder.add_meta_graph(tags, signature_def_map=sigs)
    builder.save()
    # The ModuleDef proto of the hub format: field 1 (format) = 3.
    with open(os.path.join(export_dir, "tfhub_module.pb"), "wb") as f:
        f.write(b"\x08\x03")
    return export_dir
