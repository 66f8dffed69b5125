"""`storm import`: a user's own prices, news and calls into the object store's raw layout.

Each importer streams its input, writes the raw layout (storm.store.layout) so a
rerun writes the same objects, and hands every bad row to an ImportQuarantine
(file, line, reason) instead of failing; a manifest under raw/imports/ keeps what
was imported from where, and the vendor's ticker spelling beside storm's market name.
"""
