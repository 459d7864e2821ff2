"""The local job runtime: a CreateProcessingJob request run on this machine, no Docker, no AWS account."""
