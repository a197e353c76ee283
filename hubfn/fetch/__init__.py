"""Fetch: an http(s) handle -> a checked module directory in the cache shared with tensorflow_hub.

The stages, in the order a download runs through them:
    auth      which credentials each URL of a redirect chain gets (tokens per host, netrc)
    http      requests session, redirect chains hop by hop, timeouts, status -> typed errors
    retry     the one retry and resume policy, with its stated worst case (a Budget every layer spends)
    kaggle    Kaggle Models handles: latest version, credentials, the download URL
    download  the archive's bytes, resumable (Range/If-Range) through a partial file, never spliced
    disk      free space checked before a download; a full disk said at once
    prefetch  threads for the download and for the decoder, joined by bounded queues
    archive   streaming gunzip, size and ratio caps
    tarheader a strict tar header parser (every field and name checked)
    extract   members -> files, refusing anything that would leave the module directory
    digest    the content hash recorded per file
    manifest  what an entry holds, checked cheaply on every cache hit (deeply on request)
    layout    the cache's directory layout and the per-entry lock
    cache     fetch_to_cache: lock, download, extract, check, install
    manage    list/verify/remove
    cli       `hubfn cache ...`

Rule: nothing in this package imports TensorFlow (tests/test_layout.py checks it), so tools that only
fetch, list or clean the cache start fast.
"""
