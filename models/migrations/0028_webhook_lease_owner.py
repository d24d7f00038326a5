"""A webhook subscription's lease names the process holding it, so the lease of a process that
was killed mid-delivery is taken back at once instead of after its 60 seconds."""


def up(migrator, db):
    db.execute_sql("ALTER TABLE webhook_subscription ADD COLUMN lease_worker_id BIGINT")


def down(migrator, db):
    db.execute_sql("ALTER TABLE webhook_subscription DROP COLUMN lease_worker_id")
