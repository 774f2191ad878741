"""dropsleuth: find out why TCP traffic is being dropped on AWS."""

__version__ = "0.1.0"
