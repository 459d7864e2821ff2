"""SageMaker Processing jobs: the request contract, the job runtimes (local, SageMaker) and the
in-container entrypoint that runs a recipe (``python -m prepline.processing``)."""
