"""VPC Flow Logs as AWS writes them: the field catalogue, a synthesizer and a parser."""
