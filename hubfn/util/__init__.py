"""Small shared helpers used by every layer: filesystem primitives (fs), environment variables (env),
the OS file lock (locks), a scheduling hint for helper threads (sched), and tfimport, the one way hubfn
imports TensorFlow and Keras (without their CUDA probing lines on a machine with no GPU). Only tfimport
imports TensorFlow, and only when called; nothing here imports anything else of hubfn but errors."""
