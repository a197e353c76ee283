"""Tune: a loaded module as a Keras 3 layer (keras_layer, with its output shapes in layer_shapes and its
registration with Keras in keras_registration). What a Module trains, and the TF1 graph runtime that
fine-tuning and inference share, are the core's: hubfn.loading.trainable and hubfn.loading.tf1graph."""
