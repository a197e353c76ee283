"""Malicious modules, built the way an attacker would with plain TensorFlow: each reaches outside itself.

Every builder takes the directory to write and `target`, a file path the module writes (or reads, for
the secret), and returns the directory. Building runs TensorFlow's tracing (and, for resources, their
initializers once), so callers remove `target` after building and before the load under test.
BUILDERS maps a name to (builder, what a load or call does to `target`: "write" or "read").
"""

import os

import numpy as np


def _tf():
    import tensorflow as tf

    return tf


def call_write(path, target):
    """`__call__` writes a file each time it runs."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            tf.io.write_file(target, tf.strings.as_string(tf.reduce_sum(x)))
            return 2.0 * x

    tf.saved_model.save(M(), path)
    return path


def load_write(path, target):
    """A lookup table whose initializer, run while the module is being loaded, writes a file."""
    tf = _tf()

    class Table(tf.lookup.StaticHashTable):
        def _initialize(self):
            tf.io.write_file(target, "written while loading")
            return super()._initialize()

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = Table(tf.lookup.KeyValueTensorInitializer(["a", "b"], [1, 2], tf.string, tf.int64), -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, x):
            return self.table.lookup(x)

    tf.saved_model.save(M(), path)
    return path


def read_secret(path, target):
    """`__call__` returns the contents of a file outside the module."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            return tf.io.read_file(target)

    tf.saved_model.save(M(), path)
    return path


def nested_write(path, target):
    """The write sits two tf.function calls below `__call__`."""
    tf = _tf()

    @tf.function
    def innermost(x):
        tf.io.write_file(target, "nested")
        return x + 1.0

    @tf.function
    def inner(x):
        return innermost(x) * 2.0

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return inner(x)

    tf.saved_model.save(M(), path)
    return path


def loop_write(path, target):
    """The write sits in a tf.while_loop body inside a tf.cond branch."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            def body(i, acc):
                tf.io.write_file(target, tf.strings.as_string(i))
                return i + 1, acc + x

            def loop():
                return tf.while_loop(lambda i, acc: i < 3, body, [tf.constant(0), tf.constant(0.0)])[1]

            return tf.cond(x > 0, loop, lambda: x)

    tf.saved_model.save(M(), path)
    return path


def sub_object_write(path, target):
    """A callable sub-object (as a BERT preprocessor's `tokenize`) writes; `__call__` is clean."""
    tf = _tf()

    class Tokenize(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, text):
            tf.io.write_file(target, tf.strings.reduce_join(text))
            return tf.strings.split(text)

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.tokenize = Tokenize()

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x + 1.0

    tf.saved_model.save(M(), path)
    return path


def print_to_file(path, target):
    """tf.print to a file (output_stream="file://...")."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            tf.print("input:", x, output_stream="file://" + target)
            return x

    tf.saved_model.save(M(), path)
    return path


def summary_write(path, target):
    """A TensorBoard summary writer in `__call__`, logging into the directory `target`."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            # The ops tf.summary uses, made inside the function so the writer is not a captured resource.
            writer = tf.raw_ops.SummaryWriter(shared_name="hubfn-test", container="")
            tf.raw_ops.CreateSummaryFileWriter(writer=writer, logdir=target, max_queue=1, flush_millis=10,
                                               filename_suffix=".v2")
            tf.raw_ops.WriteScalarSummary(writer=writer, step=tf.constant(1, tf.int64), tag="sum",
                                          value=tf.reduce_sum(x))
            tf.raw_ops.FlushSummaryWriter(writer=writer)
            return x

    tf.saved_model.save(M(), path)
    return path


def list_files(path, target):
    """`__call__` lists a directory (MatchingFiles) and returns the names."""
    tf = _tf()

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            return tf.io.matching_files(os.path.join(os.path.dirname(target), "*"))

    tf.saved_model.save(M(), path)
    return path


def tf1_write(path, target, at_load=False):
    """A TF1 hub-format module whose default graph writes a file: when its "default" signature runs, or
    (at_load) in its main op, which the loader runs."""
    tf = _tf()
    v1 = tf.compat.v1
    builder = v1.saved_model.Builder(path)
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        w = v1.get_variable("w", initializer=np.ones((3, 1), np.float32))
        write = tf.io.write_file(target, "tf1 graph")
        if at_load:
            y = tf.matmul(x, w)
            main_op = tf.group(write, v1.tables_initializer())
        else:
            with tf.control_dependencies([write]):
                y = tf.matmul(x, w)
            main_op = None
        info = v1.saved_model.utils.build_tensor_info
        sigs = {"default": v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"default": info(x)}, outputs={"default": info(y)}, method_name="tensorflow/serving/predict")}
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            builder.add_meta_graph_and_variables(sess, [], signature_def_map=sigs, main_op=main_op)
    builder.save()
    with open(os.path.join(path, "tfhub_module.pb"), "wb") as f:
        f.write(b"\x08\x03")
    return path


def tf1_load_write(path, target):
    return tf1_write(path, target, at_load=True)


BUILDERS = {
    "call_write": (call_write, "write"),
    "load_write": (load_write, "write"),
    "read_secret": (read_secret, "read"),
    "nested_write": (nested_write, "write"),
    "loop_write": (loop_write, "write"),
    "sub_object_write": (sub_object_write, "write"),
    "print_to_file": (print_to_file, "write"),
    "summary_write": (summary_write, "write"),
    "list_files": (list_files, "read"),
    "tf1_write": (tf1_write, "write"),
    "tf1_load_write": (tf1_load_write, "write"),
}
