"""The data layer: readers, filters, splits, the dataset registry and the prepared-split cache.

Entry points: :func:`bcl_rec.data.load.load_split` (a run config's ``data`` section to a
:class:`~bcl_rec.data.split.Split`, through the cache) and
:func:`bcl_rec.data.load.read_dataset` (the filtered interaction log). Every reader returns rows
with raw ids; :class:`~bcl_rec.data.interactions.Interactions` assigns dense ids and keeps the id
maps. A malformed input raises :class:`~bcl_rec.data.errors.DataError` naming the file, the line
and the offending text.
"""
