"""The ``dropsleuth`` command line. Each module here exposes ``register(app)`` and adds its commands."""
