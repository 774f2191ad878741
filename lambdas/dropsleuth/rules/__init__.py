"""Pure rules: no I/O, no clients, no clock. Functions of boto3-shaped dicts and plain values."""
