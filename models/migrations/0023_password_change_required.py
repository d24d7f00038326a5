"""Users an administrator gave a password must change it before anything else."""

from peewee import BooleanField


def up(migrator, db):
    migrator.add_column("user", "must_change_password", BooleanField(default=False)).run()


def down(migrator, db):
    migrator.drop_column("user", "must_change_password").run()
