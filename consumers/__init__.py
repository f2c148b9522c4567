"""Job consumers: they take job ids from the queues, claim the job in the database,
run its program (analysis, pre-process, fuse) and record the outcome.

The same code runs in `vidjil-server consumer <kind>` processes on RabbitMQ and in
threads of the web process with the in-process queue (`memory://`).
"""
