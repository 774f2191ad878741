"""The dropsleuth CDK app: one stack composed of one construct per capability (see ``cdk/app.py``)."""
