"""hubfn.spark.module_udf on a real local[2] SparkSession (Java 17, two Python workers).

One SparkSession serves every test here (a JVM start costs 10-20 s, a Python worker's TensorFlow import a few
more). Arrow batches are kept small (200 rows) so every task runs several batches through a worker that
loaded the module once. The workers get their own TFHUB_CACHE_DIR (spark.executorEnv), apart from the
driver's, so a URL test sees the workers' download separately from the driver's.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import hubfn
from hubfn import errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import hashed_text  # noqa: E402

ROWS_PER_ARROW_BATCH = 200


@pytest.fixture(scope="module")
def spark(tmp_path_factory):  # module scope: the JVM and its workers end with this file
    from pyspark.sql import SparkSession

    worker_cache = tmp_path_factory.mktemp("worker_cache")
    old = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers run this venv's Python
    session = (SparkSession.builder.master("local[2]").appName("hubfn-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ROWS_PER_ARROW_BATCH))
               .config("spark.executorEnv.TFHUB_CACHE_DIR", str(worker_cache))
               .config("spark.executorEnv.TF_CPP_MIN_LOG_LEVEL", "2")
               .getOrCreate())
    session.sparkContext.setLogLevel("FATAL")
    session.worker_cache = worker_cache
    yield session
    session.stop()
    if old is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = old


@pytest.fixture(scope="session")
def text_dir(modules_dir):
    return hashed_text.export_hashed_text_module(modules_dir / "spark_text")


@pytest.fixture(scope="module")
def sentences_df(spark):
    text = hashed_text.sentences(1200, seed=11)
    return spark.createDataFrame(list(enumerate(text)), "id long, sentence string").repartition(2, "id")


def by_id(rows, field):
    rows = sorted(rows, key=lambda r: r.id)
    return [r.id for r in rows], [r[field] for r in rows]


def test_text_udf_equals_module_apply_row_by_row_and_loads_once_per_worker(spark, sentences_df, text_dir):
    from hubfn.spark import module_udf
    from pyspark.sql import types as T

    embed = module_udf(text_dir, batch_size=64)
    out = sentences_df.select("id", "sentence", embed("sentence").alias("e"))
    assert out.schema["e"].dataType == T.ArrayType(T.FloatType(), containsNull=False)
    rows = sorted(out.collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(text_dir), [r.sentence for r in rows]).numpy()
    np.testing.assert_allclose(np.array([r.e for r in rows], np.float32), want, rtol=1e-5, atol=1e-6)

    stats = embed.hubfn_stats
    assert stats.rows == 1200
    assert 1 <= len(stats.loads) <= 2 and set(stats.loads.values()) == {1}  # local[2]: one load per worker
    assert sum(stats.batches.values()) >= 1200 // ROWS_PER_ARROW_BATCH  # ... for many batches
    assert stats.seconds > 0

    sentences_df.select(embed("sentence")).collect()  # another job: the same workers, nothing loaded again
    assert stats.rows == 2400 and set(stats.loads.values()) == {1}


def test_batch_size_none_applies_each_arrow_batch_whole_and_equals_module_apply(spark, sentences_df, text_dir):
    from hubfn.spark import module_udf

    embed = module_udf(text_dir, batch_size=None)  # one module call per Arrow batch
    rows = sorted(sentences_df.select("id", "sentence", embed("sentence").alias("e")).collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(text_dir), [r.sentence for r in rows]).numpy()
    assert len(rows) == 1200
    np.testing.assert_allclose(np.array([r.e for r in rows], np.float32), want, rtol=1e-5, atol=1e-6)
    assert embed.hubfn_stats.rows == 1200


def test_dict_input_udf_struct_or_columns_equals_module_apply(spark, fruit_dir):
    from hubfn.spark import module_udf
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    rng = np.random.default_rng(12)
    apples, oranges = rng.normal(size=300), rng.normal(size=300)
    df = spark.createDataFrame([(i, float(a), float(o)) for i, (a, o) in enumerate(zip(apples, oranges))],
                               "id long, apples double, oranges double").repartition(2)
    pets = module_udf(fruit_dir, signature="fruit_to_pet", as_dict=True)
    dogs = module_udf(fruit_dir, signature="fruit_to_pet", output_key="dogs")
    out = df.select("id", pets(F.struct("oranges", "apples")).alias("s"), pets("apples", "oranges").alias("c"),
                    dogs("apples", "oranges").alias("d"))
    assert out.schema["s"].dataType == T.StructType([T.StructField("cats", T.FloatType(), False),
                                                     T.StructField("dogs", T.FloatType(), False)])
    assert out.schema["d"].dataType == T.FloatType()
    rows = sorted(out.collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(fruit_dir), {"apples": apples, "oranges": oranges},
                              signature="fruit_to_pet", as_dict=True)
    for key in ("cats", "dogs"):
        np.testing.assert_allclose([r.s[key] for r in rows], want[key].numpy(), rtol=1e-6)
        np.testing.assert_allclose([r.c[key] for r in rows], want[key].numpy(), rtol=1e-6)
    np.testing.assert_allclose([r.d for r in rows], want["dogs"].numpy(), rtol=1e-6)


def test_vector_input_and_string_dict_signature(spark, sentences_df, fruit_dir, text_dir, text_embedding_dir):
    from hubfn.spark import module_udf
    from pyspark.sql import functions as F

    # A TF Hub text embedding with only __call__ (tests/shapes.py): typed from its traced function.
    rows = sorted(sentences_df.select("id", "sentence", module_udf(text_embedding_dir)("sentence").alias("e"))
                  .collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(text_embedding_dir), [r.sentence for r in rows]).numpy()
    np.testing.assert_allclose(np.array([r.e for r in rows]), want, rtol=1e-5, atol=1e-6)

    x = np.random.default_rng(13).normal(size=(250, 2))
    df = spark.createDataFrame([(i, [float(v) for v in row]) for i, row in enumerate(x)], "id long, x array<double>")
    rows = sorted(df.select("id", module_udf(fruit_dir)("x").alias("y")).collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(fruit_dir), x).numpy()
    np.testing.assert_allclose(np.array([r.y for r in rows]), want, rtol=1e-6)

    compare = module_udf(text_dir, signature="compare", as_dict=True, batch_size=50)
    reversed_ = F.reverse(F.col("sentence"))
    rows = sorted(sentences_df.select("id", "sentence", reversed_.alias("r"),
                                      compare("sentence", reversed_).alias("c")).collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(text_dir), {"left": [r.sentence for r in rows],
                                                        "right": [r.r for r in rows]},
                              signature="compare", as_dict=True)
    np.testing.assert_allclose([r.c.similarity for r in rows], want["similarity"].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array([r.c.left for r in rows]), want["left"].numpy(), rtol=1e-5, atol=1e-6)


def test_url_handle_one_download_for_all_workers(spark, server, text_dir, cache_dir):
    """Driver (its own cache) and workers (theirs) each fetch the archive once, however many workers load it."""
    import servers
    from hubfn.spark import module_udf

    url = server.add("/acme/spark-text/1", body=servers.targz(text_dir), smart=True, rate=2_000_000)
    udf = module_udf(url, batch_size=100)
    df = spark.createDataFrame([(i, s) for i, s in enumerate(hashed_text.sentences(400, seed=14))],
                               "id long, sentence string").repartition(2, "id")
    rows = sorted(df.select("id", "sentence", udf("sentence").alias("e")).collect(), key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(text_dir), [r.sentence for r in rows]).numpy()
    np.testing.assert_allclose(np.array([r.e for r in rows]), want, rtol=1e-5, atol=1e-6)
    archive_gets = [r for r in server.gets("/acme/spark-text/1") if r.query.get("tf-hub-format") == "compressed"]
    assert len(archive_gets) == 2  # one for the driver's cache, one for the two workers' shared cache
    entries = [p for p in os.listdir(spark.worker_cache) if os.path.isdir(os.path.join(spark.worker_cache, p))]
    assert len(entries) == 1
    assert sum(udf.hubfn_stats.loads.values()) == len(udf.hubfn_stats.loads) >= 1


def test_keras_export_runs_serving_default_as_module_apply_does(spark, tmp_path):
    # Keras 3's model.export saves "serve" and "serving_default", no "default" and no __call__:
    # module_apply runs "serving_default" when no signature is named, and so does the UDF.
    import keras
    from hubfn.spark import module_udf

    inp = keras.Input((4,), name="features")
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(inp)))
    path = str(tmp_path / "keras_export")
    model.export(path, verbose=False)
    x = np.random.default_rng(15).normal(size=(300, 4)).astype(np.float32)
    df = spark.createDataFrame([(i, [float(v) for v in row]) for i, row in enumerate(x)],
                               "id long, features array<float>")
    rows = sorted(df.select("id", module_udf(path, batch_size=64)("features").alias("y")).collect(),
                  key=lambda r: r.id)
    want = hubfn.module_apply(hubfn.hub_load(path), x).numpy()
    np.testing.assert_allclose(np.array([r.y for r in rows]), want, rtol=1e-5, atol=1e-6)


def test_bad_handle_signature_or_options_fail_on_the_driver(spark, fruit_dir, tmp_path):
    from hubfn.spark import module_udf

    with pytest.raises(errors.ModuleNotFound, match="nowhere"):
        module_udf(str(tmp_path / "nowhere"))
    with pytest.raises(errors.SignatureError, match="no signature 'nope'"):
        module_udf(fruit_dir, signature="nope")
    with pytest.raises(errors.OutputError, match="no output 'cows'"):
        module_udf(fruit_dir, signature="fruit_to_pet", output_key="cows")
    with pytest.raises(errors.OutputError, match="several outputs"):
        module_udf(fruit_dir, signature="fruit_to_pet")
    with pytest.raises(errors.InputError, match="batch_size"):
        module_udf(fruit_dir, batch_size=0)



def test_an_unsafe_module_is_refused_on_the_driver(spark, tmp_path):
    import unsafe_modules

    from hubfn.spark import module_udf

    target = tmp_path / "written"
    path = unsafe_modules.call_write(str(tmp_path / "evil"), str(target))
    with pytest.raises(errors.UnsafeModuleError, match="WriteFile"):
        module_udf(path)
    df = spark.createDataFrame([(1.0,), (2.0,)], "x float")
    out = df.select(module_udf(path, allow_ops=["WriteFile"])("x").alias("y")).collect()
    assert [r.y for r in out] == [2.0, 4.0] and target.exists()  # the workers were allowed it too


def test_call_is_typed_on_the_driver_and_a_dict_taking_call_is_fed_a_struct(
        spark, bert_preprocessor_dir, bert_encoder_dir, bare_call_dir):
    from hubfn.spark import module_udf
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    # Typed from saved_model.pb (tests/test_ways.py checks the same choice against the loaded object).
    ids = T.ArrayType(T.IntegerType(), containsNull=False)
    assert module_udf(bert_preprocessor_dir, as_dict=True).returnType == T.StructType(
        [T.StructField(k, ids, False) for k in ("input_mask", "input_type_ids", "input_word_ids")])
    # A __call__ saved without specs is typed from the module loaded on the driver.
    assert module_udf(bare_call_dir).returnType == T.ArrayType(T.FloatType(), containsNull=False)
    # A __call__ taking a dict of tensors (a BERT encoder's ids) is chosen as module_apply chooses it and
    # takes one field of a struct column per key.
    keys = ("input_word_ids", "input_mask", "input_type_ids")
    rng = np.random.RandomState(3)
    feed = {k: rng.randint(0, 2, size=(6, 4)).astype(np.int32) for k in keys}
    rows = [(i, *[feed[k][i].tolist() for k in keys]) for i in range(6)]
    df = spark.createDataFrame(rows, "id long, " + ", ".join(f"{k} array<int>" for k in keys))
    encode = module_udf(bert_encoder_dir, output_key="pooled_output")
    got = by_id(df.select("id", encode(F.struct(*keys)).alias("p")).collect(), "p")[1]
    want = hubfn.module_apply(hubfn.hub_load(bert_encoder_dir), feed, as_dict=True)["pooled_output"].numpy()
    np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-6)


def worker_error(df_action):
    from pyspark.errors import PythonException

    with pytest.raises(PythonException) as e:
        df_action()
    return str(e.value)


def test_bad_input_and_vanished_module_read_as_hubfn_errors_on_the_driver(spark, fruit_dir, text_dir, tmp_path):
    import shutil

    from hubfn.spark import module_udf

    # One partition: a worker that raises exits, and each new worker imports TensorFlow again.
    df = spark.createDataFrame([(i, f"s{i}") for i in range(40)], "id long, s string").coalesce(1)
    text = worker_error(lambda: df.select(module_udf(fruit_dir)("s")).collect())
    assert "hubfn.errors.InputError: Input 'x' of signature 'default'" in text and "expects float32" in text
    text = worker_error(lambda: df.select(module_udf(fruit_dir, signature="fruit_to_pet", as_dict=True)("id"))
                        .collect())
    assert "hubfn.errors.InputError" in text and "takes 2 input(s) (apples, oranges)" in text

    moved = shutil.copytree(text_dir, tmp_path / "text")
    udf = module_udf(moved)
    shutil.rmtree(moved)  # the driver read it; the workers will not find it
    text = worker_error(lambda: df.select(udf("s")).collect())
    assert "hubfn.errors.ModuleNotFound" in text and str(moved) in text


def test_per_call_cache_dir_is_used_on_the_driver_and_the_workers(spark, server, text_dir, tmp_path):
    """module_udf(cache_dir=) carries the call's settings to the workers: one download, into that cache."""
    import servers
    from hubfn.spark import module_udf

    url = server.add("/acme/spark-text/2", body=servers.targz(text_dir), smart=True)
    mine = tmp_path / "shared-cache"
    udf = module_udf(url, batch_size=100, cache_dir=mine)
    df = spark.createDataFrame([(i, s) for i, s in enumerate(hashed_text.sentences(50, seed=3))],
                               "id long, sentence string").repartition(2, "id")
    assert len(df.select(udf("sentence").alias("e")).collect()) == 50
    archive_gets = [r for r in server.gets("/acme/spark-text/2") if r.query.get("tf-hub-format") == "compressed"]
    assert len(archive_gets) == 1, "the workers found the driver's entry in the named cache"
    assert [p for p in os.listdir(mine) if os.path.isdir(mine / p)]
