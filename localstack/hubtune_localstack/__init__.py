"""hubtune's local stack: moto 5.2.5 plus a stand-in for what moto lacks, on one loopback port.

See docs/local-stack-contract.md in the repository for the contract this package implements.
"""

__version__ = "0.1.0"

ACCOUNT_ID = "123456789012"  # moto's default account for any non-numeric access key
REGION = "us-east-1"
PARTITION = "aws"
