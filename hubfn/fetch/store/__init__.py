"""The cache on disk: where entries live and what they are made of, and how an archive becomes one.

    layout     the directory layout (shared with tensorflow_hub) and every path of one entry
    lock       the per-entry OS lock
    prefetch   threads for the stages of a fetch, joined by bounded queues
    archive    streaming gunzip (size and ratio caps) + blocks (a `hubfn pack` index, inflated on several
               cores) + tarheader (a strict tar header parser)
    extract    members -> files, refusing anything that would leave the module directory
    digest     the content hash recorded per file
    install    a checked directory renamed into place, beside tensorflow_hub's descriptor
    manifest   what an entry holds, checked cheaply on every cache hit (deeply on request)

The store knows nothing of HTTP: it imports neither hubfn.fetch.transport nor anything above it.
"""
