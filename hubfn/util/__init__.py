"""Small shared helpers used by every layer: filesystem primitives (fs), environment variables (env)
and the OS file lock (locks). Nothing here imports TensorFlow or anything else of hubfn but errors."""
