"""The student's side of the contract (SPEC.md, "hooks"): the names a submission defines,
the template file each lives in, and their signatures. Plain data: the submission loader
(parent) and the hook importer (child, grader.sandbox.hooks) both read it.
"""

# hook -> (file in the template, number of positional arguments, the spec's signature)
FUNCTIONS = {
    "build_train_transform": ("transforms", 1, "build_train_transform(info)"),
    "build_test_transform": ("transforms", 1, "build_test_transform(info)"),
    "build_model": ("model", 1, "build_model(info)"),
    "build_optimizer": ("improvements", 1, "build_optimizer(model)"),
    "build_loss": ("improvements", 0, "build_loss()"),
    "build_scheduler": ("improvements", 3, "build_scheduler(optimizer, epochs, steps_per_epoch)"),
}
CONSTANTS = ("SCHEDULER_STEP", "EPOCHS", "BATCH_SIZE", "GRAD_CLIP_NORM", "EARLY_STOPPING_PATIENCE",
             "PARAMETER_COUNTS")
# Constants an exercise asks for and the baseline has no value of.
OPTIONAL = {"PARAMETER_COUNTS": None}
HOOK_NAMES = tuple(FUNCTIONS) + CONSTANTS
PACKAGE_FILES = ("__init__", "transforms", "model", "improvements")
