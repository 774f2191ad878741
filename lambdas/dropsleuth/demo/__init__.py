"""The embedded account: a moto-backed AWS account that replays a realistic incident."""
