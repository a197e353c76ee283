"""Module: the immutable handle users hold, and the one `hub_load`/`hub_module` return.

A Module is a value: the handle as given, where it was resolved to, which graph variant (tags), its
format, whether it is trainable, its signatures and its object-graph functions (`__call__` and callable
sub-objects such as a BERT preprocessor's `tokenize`). The loaded TensorFlow object rides along (it takes
no part in equality or repr); it is shared by every inference Module of the same (path, tags). A
trainable Module owns its weights, which training moves: each trainable load is a value of its own
(`load_id`), equal only to itself. A Module holds no mutable state: its call plans are kept beside it
(hubfn.callplan), and a trainable TF1 module's inference graph is made when it is loaded (`inference`).
"""

import itertools

import attrs

from .loading import trainable as _trainable
from .apply import module_apply
from .callplan import call_plan
from .savedmodel.signatures import TF1_HUB, find, format_tags, has_call, listing


def _tags(value):
    return None if value is None else frozenset(value)


@attrs.frozen(repr=False)
class Module:
    handle: str
    path: str
    format: str
    tags: frozenset | None = attrs.field(converter=_tags)
    trainable: bool
    signatures: tuple = attrs.field(converter=tuple)
    tag_sets: tuple = attrs.field(converter=tuple)  # every graph variant the module has
    obj: object = attrs.field(eq=False, hash=False)  # the loaded SavedModel object
    functions: tuple = attrs.field(default=(), converter=tuple)  # object-graph functions (TF2)
    # The root has a __call__ whose input specs saved_model.pb does not hold (hubfn.ways reads the object).
    call_without_specs: bool = False
    load_id: int = attrs.field(default=0, repr=False)  # 0: the shared inference load; else one trainable load
    # A trainable TF1 module's inference graph on its variables (hubfn.loading.tf1graph.InferenceGraph), or None.
    inference: object = attrs.field(default=None, eq=False, hash=False, repr=False)

    def __call__(self, inputs, signature=None, as_dict=False, training=False, batch_size=None, progress=None,
                 arguments=None):
        """Apply the module: the same as `module_apply(self, inputs, ...)`."""
        if batch_size is None:  # the common case straight to the call plan (module_apply does the same)
            return call_plan(self, signature, training)(inputs, as_dict, arguments)
        return module_apply(self, inputs, signature=signature, as_dict=as_dict, training=training,
                            batch_size=batch_size, progress=progress, arguments=arguments)

    # --- signatures and functions ----------------------------------------------------------------
    @property
    def signature_names(self):
        return tuple(s.name for s in self.signatures)

    @property
    def listing(self):
        """Every way in: the signatures, then the functions no signature shadows (`__call__`, sub-objects)."""
        return listing(self.signatures, self.functions)

    @property
    def function_names(self):
        return tuple(f.name for f in self.functions)

    def signature(self, name):
        """The Signature (or object-graph function) called `name`; SignatureError lists the names there are."""
        return find(self.signatures, self.functions, name, self.handle)

    @property
    def has_call(self) -> bool:
        """Whether the module is a TF2 reusable SavedModel with a `__call__` (read from saved_model.pb)."""
        return has_call(self.functions, self.call_without_specs)

    def listing_lines(self):
        """One line per way in (the repr and `hubfn info` show these): `listing`, then such a `__call__`."""
        lines = [line for s in self.listing for line in s.describe_lines()]
        if self.call_without_specs:
            lines.append("__call__: callable (input specs not saved)")
        return lines

    # --- variables (fine-tuning builds on these; hubfn.loading.trainable) ------------------------------------
    @property
    def variables(self):
        return _trainable.all_variables(self)

    @property
    def trainable_variables(self):
        return _trainable.trainable_variables(self) if self.trainable else []

    @property
    def regularization_losses(self):
        return _trainable.regularization_losses(self) if self.trainable else []

    def __repr__(self):
        variant = "default" if self.tags is None else format_tags(self.tags)
        lines = [f"<hubfn.Module {self.handle!r}",
                 f"  format: {self.format}, tags: {variant}, trainable: {self.trainable}"]
        if self.format == TF1_HUB and self.trainable and self.tags == frozenset({"train"}):
            lines[-1] += ' (the {"train"} variant, chosen for fine-tuning)'
        lines += ["  " + line for line in self.listing_lines()]
        return "\n".join(lines) + ">"


_load_ids = itertools.count(1)


def new_load_id() -> int:
    """A fresh identity for one load of its own (trainable, or made with load options)."""
    return next(_load_ids)
