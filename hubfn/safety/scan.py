"""The scan: every op of a module, checked against hubfn.safety.optable before anything of it runs.

It reads the SavedModel proto only (the one parse of `saved_model.pb` that hubfn makes anyway), never
loads it, and walks everything that could run:
- every graph variant (MetaGraphDef: a TF1 hub module's {} and {"train"}, a TF2 module's one);
- each graph's own nodes (TF1 graphs, the init op, the loader's checkpoint restore);
- every function of the function library: signatures, `__call__`, sub-objects' functions, resource
  creators and initializers (run while the module loads), and whatever they call, through calls, `cond`,
  `case` and `while` bodies, since every function is scanned whether or not something reaches it.

Where an op's finding is the module's own business, it is not a finding. Two cases, decided by following
the op's path argument back through the graph (through Identity ops, function calls and returns, and
function arguments to every caller that passes them):
- a read (ReadFile, a vocabulary table from a text file, a text or TFRecord dataset) whose path is, on
  every way it can arrive, one of the module's assets: a tensor named in the MetaGraph's asset_file_def
  (TF1 graphs; TF2 graph-level asset variables), or a captured input the object graph binds to an Asset
  (TF2 functions). The loader points these at files inside the module's `assets/` directory, and the
  scan checks that each asset's file name stays inside it.
- the loader's checkpoint ops: save and restore ops run only from the MetaGraph's saver (saver_def), the
  restore reading exactly the saver's file name tensor, which the loader feeds with the module's own
  `variables/variables`. The same op reached from a signature or a function, or reading another path,
  is a finding.
Everything else in the table is a finding, with where it sits (function or graph node) and what runs it
(a signature, `__call__`, a sub-object's function, or the load itself).
"""

import os
from collections import defaultdict

import attrs

from . import optable

# Leaves a path argument can come from.
ASSET, SAVER, EMPTY, OTHER = "asset", "saver", "empty", "other"

# Labels of what runs a graph node or function.
LOAD = "load"  # prefix of labels for code run while the module loads
SAVER_RESTORE = "the loader's checkpoint restore"
SAVER_SAVE = "checkpoint saving (never run by a load)"
_SAVER_LABELS = {f"{LOAD}: {SAVER_RESTORE}", SAVER_SAVE}

# Ops whose function-valued attributes pass the op's inputs on as the callee's arguments, from this offset
# (If and Case take the branch index or condition first). Other ops' functions (while bodies, dataset maps)
# get arguments the scan does not follow, so a path arriving there is not taken for an asset.
_CALL_OFFSET = {"PartitionedCall": 0, "StatefulPartitionedCall": 0, "If": 1, "StatelessIf": 1, "Case": 1,
                "StatelessCase": 1}
_PASS_THROUGH = {"Identity", "Snapshot", "StopGradient"}


@attrs.frozen
class Finding:
    """One op that reaches outside the module: what it is, why it matters, where it sits, what runs it."""

    op: str
    category: str
    why: str
    node: str
    function: str | None  # the library function holding the op; None: a node of the graph itself
    reached_from: tuple = attrs.field(converter=tuple)  # "__call__", "signature 'serving_default'", "load: ..."
    tags: tuple = attrs.field(default=(), converter=lambda t: tuple(sorted(t)))  # the graph variant

    @property
    def at_load(self) -> bool:
        """Whether it runs while the module loads, before any call."""
        return any(label.startswith(LOAD) for label in self.reached_from)

    def where(self) -> str:
        holder = f"function {self.function}" if self.function else f"graph node {self.node!r}"
        variant = f" of graph variant {{{', '.join(self.tags)}}}" if self.tags else ""
        return f"{', '.join(self.reached_from)} ({holder}{variant})"

    def describe(self) -> str:
        return f"{self.op} in {self.where()}: {self.why}"

    def as_dict(self) -> dict:
        out = attrs.asdict(self)
        out.update(reached_from=list(self.reached_from), tags=list(self.tags), at_load=self.at_load)
        return out

    @classmethod
    def from_dict(cls, data) -> "Finding":
        return cls(**{k: data[k] for k in ("op", "category", "why", "node", "function", "reached_from", "tags")})


def scan(proto, path: str | None = None) -> tuple:
    """Every Finding of the SavedModel proto (all graph variants), in a stable order. `path`, when given, is
    the module directory, whose assets are checked to stay inside it."""
    found = []
    for mg in proto.meta_graphs:
        found.extend(_MetaGraph(mg).findings())
        found.extend(_asset_findings(mg, path))
    unique = {(f.tags, f.function or "", f.node, f.op): f for f in found}
    return tuple(unique[k] for k in sorted(unique))


# --- references in graphs and functions --------------------------------------------------------------
def _data_inputs(node):
    return [i for i in node.input if not i.startswith("^")]


def _graph_ref(ref):
    """("node", output index) of a graph input or tensor name: "x", "x:1", "^x"."""
    name, _, idx = ref.lstrip("^").partition(":")
    return name, int(idx) if idx.isdigit() else 0


def _attrs(node):
    out = {}
    for key in optable.RULE_ATTRIBUTES:
        if key in node.attr:
            value = node.attr[key]
            out[key] = ([v.decode("utf-8", "replace") for v in value.list.s] if value.WhichOneof("value") == "list"
                        else value.s.decode("utf-8", "replace"))
    return out


def _empty_string_const(node):
    tensor = node.attr["value"].tensor
    return tensor.dtype == 7 and all(v == b"" for v in tensor.string_val)  # 7: DT_STRING


class _MetaGraph:
    """One MetaGraphDef: its graph nodes, functions, what runs each, and where path arguments come from."""

    def __init__(self, mg):
        self.mg = mg
        self.tags = tuple(mg.meta_info_def.tags)
        self.nodes = {n.name: n for n in mg.graph_def.node}
        self.funcs = {f.signature.name: f for f in mg.graph_def.library.function}
        self._fnodes = {}
        self.assets = {_graph_ref(name) for name, _ in assets_of(mg)}
        saver = mg.saver_def
        self.saver_filename = _graph_ref(saver.filename_tensor_name) if saver.filename_tensor_name else None
        self.callers = defaultdict(list)  # function -> [(scope, node, argument offset or None)]
        self.calls = {}  # (scope, node name) -> [(function, argument offset or None)], for nodes that call
        for scope, node in self._all_nodes():
            callees = self._find_callees(node)
            if callees:
                self.calls[scope, node.name] = callees
                for callee, offset in callees:
                    self.callers[callee].append((scope, node, offset))
        objects = mg.object_graph_def
        self.bound = {name: [objects.nodes[i].WhichOneof("kind") for i in cf.bound_inputs]
                      for name, cf in objects.concrete_functions.items()}
        self._assigns = None
        self._memo = {}
        self.graph_labels, self.func_labels = self._labels()

    # --- the nodes -----------------------------------------------------------------------------------
    def _all_nodes(self):
        for node in self.mg.graph_def.node:
            yield None, node
        for name, f in self.funcs.items():
            for node in f.node_def:
                yield name, node

    def _fnode(self, scope, name):
        if scope not in self._fnodes:
            self._fnodes[scope] = {n.name: n for n in self.funcs[scope].node_def}
        return self._fnodes[scope].get(name)

    def _find_callees(self, node):
        """[(function, argument offset or None)] that `node` runs: its op, or its function-valued attributes."""
        out = [(node.op, 0)] if node.op in self.funcs else []
        offset = _CALL_OFFSET.get(node.op)
        for value in node.attr.values():
            kind = value.WhichOneof("value")
            if kind == "func":
                names = [value.func.name]
            elif kind == "list" and value.list.func:
                names = [f.name for f in value.list.func]
            else:
                continue
            out.extend((n, offset) for n in names if n in self.funcs)
        return out

    def _callees(self, scope, node):
        return self.calls.get((scope, node.name), ())

    # --- what runs each node and function -------------------------------------------------------------
    def _labels(self):
        graph_labels = defaultdict(set)

        def mark(tensor_names, label):
            stack = [_graph_ref(t)[0] for t in tensor_names]
            while stack:
                name = stack.pop()
                if label in graph_labels[name] or name not in self.nodes:
                    continue
                graph_labels[name].add(label)
                stack.extend(_graph_ref(i)[0] for i in self.nodes[name].input)

        for key, sd in self.mg.signature_def.items():
            names = [t.name for t in sd.outputs.values()]
            mark(names, f"{LOAD}: the init op" if key == "__saved_model_init_op" else f"signature {key!r}")
        for key in ("saved_model_main_op", "legacy_init_op", "table_initializer", "main_op"):
            if key in self.mg.collection_def:
                mark(self.mg.collection_def[key].node_list.value, f"{LOAD}: the init op")
        for key, label in (("update_ops", "training updates (UPDATE_OPS)"),
                           ("regularization_losses", "regularization losses")):
            if key in self.mg.collection_def:
                mark(self.mg.collection_def[key].node_list.value, label)
        saver = self.mg.saver_def
        if saver.restore_op_name:
            mark([saver.restore_op_name], f"{LOAD}: {SAVER_RESTORE}")
        if saver.save_tensor_name:
            mark([saver.save_tensor_name], SAVER_SAVE)

        func_labels = defaultdict(set)
        for name, label in self._object_labels():
            func_labels[name].add(label)
        for node in self.mg.graph_def.node:
            for callee, _ in self._callees(None, node):
                func_labels[callee] |= graph_labels.get(node.name) or {"the graph (not run by any signature)"}
        pending = list(func_labels)
        while pending:
            name = pending.pop()
            for node in self.funcs[name].node_def if name in self.funcs else ():
                for callee, _ in self._callees(name, node):
                    if not func_labels[name] <= func_labels[callee]:
                        func_labels[callee] |= func_labels[name]
                        pending.append(callee)
        return graph_labels, func_labels

    def _object_labels(self):
        """(concrete function, label) for the object graph's functions, labelled by their object path."""
        nodes = self.mg.object_graph_def.nodes
        if not nodes:
            return
        paths, queue = {0: ""}, [0]
        while queue:  # breadth first: each object is named by its shortest path
            i = queue.pop(0)
            if nodes[i].WhichOneof("kind") in ("function", "bare_concrete_function"):
                continue  # their children are traces and captures, not parts of the module
            for child in nodes[i].children:
                if child.node_id not in paths:
                    paths[child.node_id] = f"{paths[i]}.{child.local_name}".lstrip(".")
                    queue.append(child.node_id)
        for i, path in paths.items():
            kind = nodes[i].WhichOneof("kind")
            if kind == "function":
                names = nodes[i].function.concrete_functions
            elif kind == "bare_concrete_function":
                names = [nodes[i].bare_concrete_function.concrete_function_name]
            else:
                continue
            last = path.rsplit(".", 1)[-1]
            if path.startswith("signatures."):
                label = f"signature {path[len('signatures.'):]!r}"
            elif last in ("_initialize", "_create_resource"):
                label = f"{LOAD}: {path}"
            else:
                label = path
            for name in names:
                yield name, label

    def labels_of(self, scope, node):
        if scope is None:
            return sorted(self.graph_labels.get(node.name) or {"the graph (not run by any signature)"})
        return sorted(self.func_labels.get(scope) or {"the function library (called by nothing the module has)"})

    # --- where a path argument comes from -------------------------------------------------------------
    def trace(self, scope, ref, depth=0) -> frozenset:
        """The leaves (ASSET, SAVER, EMPTY, OTHER) the tensor `ref` of `scope` (None: the graph) comes from."""
        key = (scope, ref)
        if key not in self._memo:
            self._memo[key] = frozenset({OTHER})  # a cycle (a loop, a recursive call) is not a path we trust
            self._memo[key] = self._trace(scope, ref, depth) if depth < 64 else frozenset({OTHER})
        return self._memo[key]

    def _trace(self, scope, ref, depth):
        if scope is None:
            name, index = _graph_ref(ref)
            if (name, index) in self.assets:
                return frozenset({ASSET})
            if (name, index) == self.saver_filename:
                return frozenset({SAVER})
            node, out_name = self.nodes.get(name), None
        else:
            parts = ref.split(":")
            args = [a.name for a in self.funcs[scope].signature.input_arg]
            if parts[0] in args and len(parts) < 3:
                return self._trace_argument(scope, args.index(parts[0]), depth)
            name = parts[0]
            out_name = parts[1] if len(parts) == 3 else None
            index = int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0
            node = self._fnode(scope, name)
        if node is None:
            return frozenset({OTHER})
        inputs = _data_inputs(node)
        if node.op in _PASS_THROUGH and inputs:
            return self.trace(scope, inputs[0], depth + 1)
        if node.op == "IdentityN" and index < len(inputs):
            return self.trace(scope, inputs[index], depth + 1)
        if node.op == "Const":
            return frozenset({EMPTY if _empty_string_const(node) else OTHER})
        if node.op == "ReadVariableOp" and scope is None and inputs:
            return self._trace_variable(_graph_ref(inputs[0])[0], depth)
        for callee, offset in self._callees(scope, node):
            if offset == 0:  # a plain call: the value is what the callee returns
                return self._trace_return(callee, out_name, index, direct=node.op == callee, depth=depth)
        return frozenset({OTHER})

    def _trace_return(self, callee, out_name, index, direct, depth):
        outputs = [a.name for a in self.funcs[callee].signature.output_arg]
        if direct and out_name in outputs:  # a direct call's outputs are named by the callee's output args
            index = outputs.index(out_name)
        if index >= len(outputs) or outputs[index] not in self.funcs[callee].ret:
            return frozenset({OTHER})
        return self.trace(callee, self.funcs[callee].ret[outputs[index]], depth + 1)

    def _trace_argument(self, scope, index, depth):
        leaves = set()
        kinds = self.bound.get(scope)
        if kinds is not None:  # the loader calls it: user inputs first, then its bound captures
            user = len(self.funcs[scope].signature.input_arg) - len(kinds)
            leaves.add(OTHER if index < user else (ASSET if kinds[index - user] == "asset" else OTHER))
        for caller_scope, node, offset in self.callers.get(scope, ()):
            inputs = _data_inputs(node)
            if offset is None or index + offset >= len(inputs):
                leaves.add(OTHER)
            else:
                leaves |= self.trace(caller_scope, inputs[index + offset], depth + 1)
        return frozenset(leaves or {OTHER})

    def _trace_variable(self, handle, depth):
        """A graph-level resource variable holds an asset path when every assignment to it is one."""
        if self._assigns is None:
            self._assigns = defaultdict(list)
            for node in self.mg.graph_def.node:
                if node.op == "AssignVariableOp" and len(_data_inputs(node)) == 2:
                    self._assigns[_graph_ref(_data_inputs(node)[0])[0]].append(_data_inputs(node)[1])
        values = self._assigns.get(handle)
        if not values:
            return frozenset({OTHER})
        return frozenset().union(*(self.trace(None, v, depth + 1) for v in values))

    # --- the findings ---------------------------------------------------------------------------------
    def _risk(self, scope, node):
        rule = optable.ATTRIBUTE_RULES.get(node.op)
        risk = rule(_attrs(node)) if rule else optable.risk_of(node.op)
        if risk is None:
            return None
        inputs = _data_inputs(node)

        def leaves(position):
            return self.trace(scope, inputs[position]) if position is not None and position < len(inputs) else None

        if leaves(optable.FILE_NAME_INPUT.get(node.op)) == {EMPTY}:
            return None  # a dataset cache in memory
        if leaves(optable.ASSET_PATH_INPUT.get(node.op)) == {ASSET}:
            return None  # reads one of the module's assets
        if node.op in optable.CHECKPOINT_SAVES or node.op in optable.CHECKPOINT_RESTORE_PATH_INPUT:
            run_by = set(self.labels_of(scope, node))
            if run_by <= _SAVER_LABELS:
                if node.op in optable.CHECKPOINT_SAVES and run_by == {SAVER_SAVE}:
                    return None  # the saver's own save: no loader runs it
                if leaves(optable.CHECKPOINT_RESTORE_PATH_INPUT.get(node.op)) == {SAVER}:
                    return None  # the loader's restore of the module's variables
        return risk

    def findings(self):
        for scope, node in self._all_nodes():
            risk = self._risk(scope, node)
            if risk is not None:
                yield Finding(op=node.op, category=risk.category, why=risk.why, node=node.name, function=scope,
                              reached_from=self.labels_of(scope, node), tags=self.tags)


def assets_of(mg):
    """[(tensor name, file name)] of a MetaGraph's assets: its asset_file_def (TF2, and TF1 saved by newer
    builders) and the "saved_model_assets" collection (TF1 builders), both of which TensorFlow's loader reads."""
    from ..util.tfimport import import_tensorflow

    import_tensorflow()  # (already imported by the parse that made `mg`)
    from tensorflow.core.protobuf import meta_graph_pb2

    out = [(a.tensor_info.name, a.filename) for a in mg.asset_file_def]
    if "saved_model_assets" in mg.collection_def:
        for packed in mg.collection_def["saved_model_assets"].any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            if packed.Unpack(asset):
                out.append((asset.tensor_info.name, asset.filename))
    return out


def _asset_findings(mg, path):
    """Assets whose file name leaves `assets/` (the loader joins it to that directory), or a file there that
    is a link to somewhere outside the module."""
    for tensor_name, name in assets_of(mg):
        problem = None
        if os.path.isabs(name) or os.path.normpath(name).split(os.sep)[0] in ("..", "") or "\0" in name:
            problem = f"names the file {name!r}, outside the module's assets directory"
        elif path is not None:
            target = os.path.join(path, "assets", name)
            inside = os.path.realpath(path) + os.sep
            if os.path.lexists(target) and not os.path.realpath(target).startswith(inside):
                problem = f"assets/{name} is a link to {os.path.realpath(target)!r}, outside the module"
        if problem:
            yield Finding(op="Asset", category="file read", why=f"an asset that {problem}", node=tensor_name,
                          function=None, reached_from=["the asset list (asset_file_def)"],
                          tags=mg.meta_info_def.tags)
