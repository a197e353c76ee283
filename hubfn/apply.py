"""Apply: run one of a module's functions on user inputs and pick the outputs asked for.

The steps (choose the function, check and convert the inputs, call it, shape the result) are a call
plan (hubfn.callplan.call_plan), made once per (module, signature, training) and kept with the Module;
a call then costs the conversions it needs and TensorFlow's own call. `batch_size=` hands the plan to
hubfn.batch as the function that runs one batch.
"""

from . import batch
from .callplan import call_plan


def module_apply(module, inputs, signature=None, as_dict=False, training=False, batch_size=None, progress=None,
                 arguments=None, policy="python"):
    """Apply `module` to `inputs`.

    signature: a SignatureDef, `__call__` or a callable sub-object by name; None picks "default", else the
        module's `__call__` (TF2), else "serving_default", else its only signature (hubfn.ways.choose).
    inputs: one value for a one-input function, or a dict keyed by input names (a list for a function
        saved to take a list).
    as_dict: True returns every output as a dict; False returns the "default" (or only) output.
    training: passed to a TF2 module's `__call__` (fine-tuning); a trainable TF1 module runs its {"train"}
        graph only with training=True.
    batch_size: apply to at most this many rows at a time and join the outputs (see hubfn.batch);
    progress: show a progress bar while doing so (None: only on a terminal).
    arguments: keyword arguments for `__call__` or a sub-object: Python ones it was saved with (e.g.
        seq_length=16, return_dict=True) and optional tensor ones (hyperparameters), which are checked and
        converted like inputs.
    policy: where the inputs come from (hubfn.input_policies.POLICIES): "python", "r" or "arrow".
    """
    plan = call_plan(module, signature, training, policy)
    if batch_size is not None:
        rows = plan.arrange(inputs)  # whole columns (Arrow, R lists) in the form batches are cut from
        return batch.apply_in_batches(lambda part: plan(part, as_dict, arguments), rows, batch_size,
                                      module.handle, progress=progress)
    return plan(inputs, as_dict, arguments)
