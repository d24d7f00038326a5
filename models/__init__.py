"""Peewee models. Import from the submodules; models never import handlers or services."""
