"""Transport: the bytes of a URL, over one HTTP path with one retry set-up.

    auth       which credentials each URL of a redirect chain gets (tokens per host, netrc, a source's own)
    retry      the one retry and resume policy, with its stated worst case (a Budget every layer spends)
    http       the one budgeted GET: the session, redirect chains hop by hop, failures -> errors
    status     a refusing answer -> a typed error; URLs and chains as messages show them
    ranged     the archive's GET from a byte offset (Range, If-Range with its validator), its answer
    disk       free space checked before a download; a full disk said at once
    download   the archive's bytes, resumable through a partial file, never spliced
    parallel   the same as concurrent range requests, the decoder fed the contiguous prefix (parallel_http:
               its HTTP side, and the choice between the two)
    partmap    a ranged download's Plan, and the part map a killed one leaves beside the partial file

Archive downloads and Kaggle's API use the same GET. The transport knows nothing of the cache's layout
(the download is handed the paths of its partial file) nor of any source: it imports neither
hubfn.fetch.store nor anything above it.
"""
