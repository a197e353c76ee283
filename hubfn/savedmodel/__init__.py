"""What a module directory holds, read from its files without loading it.

- `moduledir`: is this a module directory (saved_model.pb; the TF1 hub format's tfhub_module.pb);
- `signatures`: the SignatureDefs and functions `saved_model.pb` declares, as plain values, and its parse;
- `objectgraph`: `__call__` and callable sub-objects with their saved input specs, from the object graph;
- `oplibs`: the op libraries (tensorflow_text, ...) a module's ops need, imported or named before a load.
"""
