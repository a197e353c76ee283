"""Modules are untrusted code: what a module may not do, found before anything of it runs.

- `optable`: the op types that reach outside a module (files, the network, other processes), and why.
- `scan`: walks every graph and function of `saved_model.pb` and reports each such op that is not the
  module's own business (its assets, the loader's checkpoint restore) as a Finding.
- `guard`: the check hubfn.api makes before loading: a module with findings is an UnsafeModuleError unless
  the call's settings allow it (safe_mode=False, allow_ops=[...]); results are kept per module.
"""
