"""Transfer learning on scikit-learn's bundled digits (8x8 images), with no downloads.

1. `export_feature_extractor` trains a small network on some digit classes only (0-4 by default) and
   exports its hidden layers as a module: 64 pixels in, FEATURES features out.
2. `fine_tune_classifier` puts that module in a Keras 3 model through `hub_layer`, adds a softmax over all
   ten classes, and trains it, fine-tuning the module too when trainable=True.
Used by the tests and by the transfer-learning vignette.
"""

import numpy as np

FEATURES = 32


def digits_split(seed=0, test_fraction=0.25):
    """(x_train, y_train, x_test, y_test): pixels scaled to [0, 1] as float32, labels as int32."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return x_train, y_train, x_test, y_test


def export_feature_extractor(export_dir, classes=(0, 1, 2, 3, 4), epochs=30, seed=0, overwrite=False):
    """Train on `classes` only and export the feature layers as a module; returns the directory."""
    import keras

    from hubfn import export_savedmodel

    keras.utils.set_random_seed(seed)
    x_train, y_train, _, _ = digits_split(seed)
    keep = np.isin(y_train, classes)
    features = keras.Sequential([
        keras.Input((64,), name="pixels"),
        keras.layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4)),
        keras.layers.Dense(FEATURES, activation="relu"),
    ], name="digit_features")
    model = keras.Sequential([features, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x_train[keep], y_train[keep], epochs=epochs, batch_size=64, verbose=0)
    return export_savedmodel(features, export_dir, overwrite=overwrite)


def fine_tune_classifier(module_handle, trainable=True, epochs=30, seed=0, learning_rate=0.005):
    """Train a ten-class classifier on the module's features; returns (model, history dict, test accuracy)."""
    import keras

    from hubfn import hub_layer

    keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = digits_split(seed)
    model = keras.Sequential([
        keras.Input((64,)),
        hub_layer(module_handle, trainable=trainable, name="digit_features"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0,
                        validation_data=(x_test, y_test))
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, {k: [float(v) for v in vs] for k, vs in history.history.items()}, float(accuracy)
