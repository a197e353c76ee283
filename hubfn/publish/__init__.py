"""Publish: module directories -> archives and a server that speaks TF Hub's hosting protocol.

    pack    a module directory -> one deterministic .tar.gz
    store   which URL path names which module; archives packed once, kept in a pack cache
    page    what the server says about a module (HTML and JSON from one dict)
    http    HTTP details kept apart from routing: ranges, validators, streaming
    serve   the WSGI app and the waitress server (`hubfn serve`)

Rule: packing and serving archives never import TensorFlow (tests/test_layout.py checks it); only
rendering a module's page reads its signatures, through TensorFlow's protobuf definitions.
"""
