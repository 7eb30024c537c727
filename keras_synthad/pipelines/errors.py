"""The errors that stop a pipeline run, each with a message a user can act on."""


class DataValidationError(ValueError):
    """The input data does not match the schema or the config (ExampleValidator's report)."""
