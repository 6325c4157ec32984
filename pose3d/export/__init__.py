"""Writers of each seed's own input files, from what ``convert``, ``frames`` and ``priors`` computed.

One module per format; each exposes ``NAME``, ``export(inputs, out, settings) -> dict`` (a
summary for the log) and writes a ``README.md`` saying where the files go and which command
of the seed then runs. The folder ``out`` is written whole or not at all by the caller.
"""
