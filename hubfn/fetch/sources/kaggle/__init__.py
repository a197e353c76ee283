"""Kaggle Models: `kaggle:owner/model/framework/variation[/version]` and Kaggle's model page URLs,
fetched through Kaggle's public REST API (v1) into the cache shared with tensorflow_hub.

The two API calls, as kagglehub (Kaggle's own client) makes them:
    GET {endpoint}/api/v1/models/{owner}/{model}/{framework}/{variation}/get
        JSON about the variation; its "versionNumber" is the latest version
    GET {endpoint}/api/v1/models/{owner}/{model}/{framework}/{variation}/{version}/download
        a redirect to a signed storage URL (Google Cloud Storage) serving the .tar.gz with
        `x-goog-hash: crc32c=...,md5=...`; the download follows it and checks the MD5
{endpoint} is $KAGGLE_API_ENDPOINT, else https://www.kaggle.com (Settings.kaggle_endpoint).

Handles; the page forms are the ones kaggle.com links to (tfhub.dev redirects to them):
    kaggle:google/bert/tensorFlow2/answer-equivalence-bem[/3]
    https://www.kaggle.com/models/google/bert/tensorFlow2/answer-equivalence-bem[/3]
    https://www.kaggle.com/models/google/bert/frameworks/tensorFlow2/variations/answer-equivalence-bem[/versions/3]
The framework goes to Kaggle as written: Kaggle takes any case (tensorFlow2, TensorFlow2), and kagglehub
passes it on unchanged too. Two spellings are two cache entries, as they are in kagglehub's cache.

Cache keys:
  - with a version: the handle as written. For a page URL that is the key tensorflow_hub uses for the
    same URL, so the two libraries share the entry.
  - without one: Kaggle is asked for the latest version N and the entry is the one of
    `kaggle:owner/model/framework/variation/N`, exactly as if that had been written. Which N "latest"
    meant is recorded in `<sha1(kaggle:owner/model/framework/variation)>.hubfn-latest.json` in the cache
    directory (a `.hubfn-` name: cache listings and tensorflow_hub ignore it), so that offline the same
    entry is used without any request. A page URL without a version shares that record.

Credentials go to the API host only (the storage URL carries its own signature, and hubfn.fetch.transport.auth
sends a source's credentials to no other host of a redirect chain): token= of the call as a Bearer
token; else KAGGLE_USERNAME + KAGGLE_KEY, else kaggle.json in $KAGGLE_CONFIG_DIR (default ~/.kaggle), as
HTTP Basic auth (how kagglehub sends them). Public models need none. Nothing is sent over plain http://
unless token_over_http.

No TensorFlow import here (see hubfn.fetch).

The modules: handle (ModelRef with the API's URLs, parse, is_page: cheap, imported by the resolvers), api
(credentials, the latest version through hubfn.fetch.transport.http, Kaggle's words for refusals), latest
(the record), locate (the locator: handle -> Location).
"""
