"""Tune: fine-tuning a loaded module (finetune) and using it as a Keras 3 layer (keras_layer)."""
