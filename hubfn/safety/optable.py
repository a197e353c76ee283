"""Which op types reach outside a module, and why that matters: the one table the scan reads.

A SavedModel is a program. Most of its ops compute on tensors in memory; the ones below touch this
machine's files, TensorFlow's file systems (which include gs://, s3:// and http paths, so the network), or
other processes. hubfn refuses a module that holds any of them (hubfn.safety.scan decides where an op is the
module's own business: the loader's checkpoint restore, a read of one of its assets).

Each entry: op type -> Risk(category, why). The categories are few and plain, for people reading a refusal:
    file write, file read, directory listing, checkpoint, summary file, dataset file, memory-mapped file,
    print to file, debug dump, network, python, file system settings
An op type may be conditional on its attributes (tf.print is harmless unless it prints to a file): those
live in ATTRIBUTE_RULES. Op types from a library hubfn does not know (a custom op library) are the op
libraries' business (hubfn.savedmodel.oplibs); tensorflow-io's ops, whose whole purpose is I/O, are flagged by prefix.

To change what is refused, edit this file only; SCAN_VERSION changes with it, so cached scan results
(beside cache entries) are made again.
"""

import hashlib

import attrs


@attrs.frozen
class Risk:
    category: str
    why: str


_WRITE = Risk("file write", "writes or deletes files on this machine or a remote file system")
_READ = Risk("file read", "reads a file that is not one of the module's assets, so its contents can reach the "
                          "module's outputs")
_LIST = Risk("directory listing", "lists the files of directories on this machine or a remote file system")
_CKPT_SAVE = Risk("checkpoint", "saves a checkpoint to a path of its own choosing")
_CKPT_READ = Risk("checkpoint", "restores a checkpoint that is not the module's own variables")
_SUMMARY = Risk("summary file", "writes TensorBoard summaries to a file or database")
_DATASET = Risk("dataset file", "a tf.data dataset that reads or writes files")
_MMAP = Risk("memory-mapped file", "maps a file of this machine into memory")
_NETWORK = Risk("network", "talks to other processes or machines")
_PYTHON = Risk("python", "runs Python code of the process (tf.py_function), outside the graph")
_FS_CONFIG = Risk("file system settings", "changes how TensorFlow's file systems connect")
_DEBUG = Risk("debug dump", "dumps tensors to files or sends them to a debugger server")

RISKY_OPS = {
    **dict.fromkeys(["WriteFile", "DeleteFile"], _WRITE),
    **dict.fromkeys(["ReadFile", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
                     "GenerateVocabRemapping", "TFRecordReader", "TFRecordReaderV2", "TextLineReader",
                     "TextLineReaderV2", "WholeFileReader", "WholeFileReaderV2", "FixedLengthRecordReader",
                     "FixedLengthRecordReaderV2", "LMDBReader", "RecordInput"], _READ),
    **dict.fromkeys(["MatchingFiles", "MatchingFilesDataset", "ExperimentalMatchingFilesDataset"], _LIST),
    **dict.fromkeys(["Save", "SaveSlices", "SaveV2", "MergeV2Checkpoints"], _CKPT_SAVE),
    **dict.fromkeys(["Restore", "RestoreSlice", "RestoreV2", "LoadAndRemapMatrix"], _CKPT_READ),
    **dict.fromkeys(["CreateSummaryFileWriter", "CreateSummaryDbWriter", "SummaryWriter", "WriteSummary",
                     "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
                     "WriteGraphSummary", "WriteRawProtoSummary", "FlushSummaryWriter", "CloseSummaryWriter",
                     "ImportEvent", "StatsAggregatorSetSummaryWriter"], _SUMMARY),
    **dict.fromkeys(["TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
                     "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
                     "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset",
                     "LoadDataset", "SaveDataset", "SaveDatasetV2", "SnapshotDataset", "SnapshotDatasetV2",
                     "SnapshotDatasetReader", "SnapshotNestedDatasetReader", "SnapshotChunkDataset",
                     "ListSnapshotChunksDataset", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
                     "DistributedSave"], _DATASET),
    "ImmutableConst": _MMAP,
    **dict.fromkeys(["DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
                     "RemoteCall", "Send", "Recv", "CollectiveReduce", "CollectiveReduceV2", "CollectiveReduceV3",
                     "CollectiveGather", "CollectiveGatherV2", "CollectiveBcastSend", "CollectiveBcastSendV2",
                     "CollectiveBcastRecv", "CollectiveBcastRecvV2", "CollectiveAllToAllV2", "CollectiveAllToAllV3",
                     "CollectiveReduceScatterV2", "CollectivePermute", "CollectiveInitializeCommunicator",
                     "CollectiveAssignGroupV2"], _NETWORK),
    **dict.fromkeys(["PyFunc", "PyFuncStateless", "EagerPyFunc"], _PYTHON),
    "FileSystemSetConfiguration": _FS_CONFIG,
}

# tensorflow-io registers its file system, dataset and network ops under this prefix.
RISKY_PREFIXES = {"IO>": Risk("network", "a tensorflow-io op: reads or writes files, databases or the network")}

# Reads whose path may be one of the module's own assets, and which input holds the path.
ASSET_PATH_INPUT = {"ReadFile": 0, "InitializeTableFromTextFile": 1, "InitializeTableFromTextFileV2": 1,
                    "TextLineDataset": 0, "TFRecordDataset": 0, "TFRecordDatasetV2": 0,
                    "FixedLengthRecordDataset": 0, "FixedLengthRecordDatasetV2": 0}

# Checkpoint ops, and which input holds the checkpoint's path (a restore is the loader's own when that path is
# the loader's file name tensor; see hubfn.safety.scan).
CHECKPOINT_SAVES = frozenset({"Save", "SaveSlices", "SaveV2", "MergeV2Checkpoints"})
CHECKPOINT_RESTORE_PATH_INPUT = {"Restore": 0, "RestoreSlice": 0, "RestoreV2": 0}


def _print_rule(attr):
    stream = attr.get("output_stream")
    if isinstance(stream, str) and stream.startswith("file://"):
        return Risk("print to file", f"tf.print writes to the file {stream[len('file://'):]!r}")
    return None


def _debug_rule(attr):
    urls = attr.get("debug_urls") or []
    root = attr.get("dump_root") or ""
    if urls or root:
        return Risk("debug dump", f"dumps tensors to {', '.join(list(urls) + ([root] if root else []))}")
    return None


def _descriptor_rule(attr):
    source = attr.get("descriptor_source") or "local://"
    if source in ("local://", "") or source.startswith("bytes://"):
        return None
    return Risk("file read", f"reads the proto descriptor file {source!r}")


# op type -> rule(attributes as {name: str or list of str}) -> Risk or None.
ATTRIBUTE_RULES = {
    "PrintV2": _print_rule,
    **dict.fromkeys(["DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
                     "DebugNumericSummaryV2"], _debug_rule),
    **dict.fromkeys(["DecodeProtoV2", "EncodeProto"], _descriptor_rule),
}
# The attributes those rules read (the scan decodes only these).
RULE_ATTRIBUTES = ("output_stream", "debug_urls", "dump_root", "descriptor_source")

# A dataset cache whose file name input is not an empty constant writes files.
FILE_NAME_INPUT = {"CacheDataset": 1, "CacheDatasetV2": 1}
_CACHE_FILE = Risk("dataset file", "a tf.data cache that writes its elements to files")


def risk_of(op: str):
    """The Risk of an op type regardless of its attributes and inputs, or None."""
    risk = RISKY_OPS.get(op)
    if risk is None and op in FILE_NAME_INPUT:
        return _CACHE_FILE
    if risk is None:
        risk = next((r for prefix, r in RISKY_PREFIXES.items() if op.startswith(prefix)), None)
    return risk


def _version():
    text = repr((sorted((k, attrs.astuple(v)) for k, v in RISKY_OPS.items()), sorted(RISKY_PREFIXES),
                 sorted(ASSET_PATH_INPUT.items()), sorted(CHECKPOINT_SAVES), sorted(ATTRIBUTE_RULES),
                 sorted(FILE_NAME_INPUT), 2))  # bump the last number when the scan's logic changes
    return hashlib.sha1(text.encode()).hexdigest()[:12]


SCAN_VERSION = _version()
