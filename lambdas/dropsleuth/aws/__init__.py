"""Adapters to AWS services, one module per service; each declares the IAM actions it calls."""
