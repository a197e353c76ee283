"""The loaded TensorFlow object behind a Module.

- `load`: one object per (path, tags) per process, loaded afresh when the module's files change;
- `tf1graph`: TF1 hub graphs: their collections, pruned calls, the inference graph beside a train graph;
- `trainable`: a module's variables, trainable variables and regularization losses, TF2 and TF1 alike.
"""
